//! `PgPromptRepository` as an `EmbeddingRepository`: vectors round-trip exactly, storing is
//! idempotent, projects and models never see each other's embeddings, and candidates come from
//! shared band keys, most shared first.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions: a failed setup should panic, not be handled"
)]

use aicp_domain::{EmbeddingRepository, ProjectId, PromptEmbedding};
use aicp_storage::{PgPromptRepository, PoolConfig, build_pool};
use aicp_test_support::TestDatabase;

fn embedding(hash: &str, vector: &[f32], bands: &[u64]) -> PromptEmbedding {
    PromptEmbedding { prompt_hash: hash.into(), vector: vector.to_vec(), bands: bands.to_vec() }
}

async fn repo(db: &TestDatabase) -> PgPromptRepository {
    PgPromptRepository::new(build_pool(&PoolConfig::new(db.url())).unwrap())
}

#[tokio::test]
async fn vectors_round_trip_exactly_and_storing_twice_keeps_the_first() {
    let db = TestDatabase::new().await;
    let repo = repo(&db).await;
    let acme = ProjectId::new("acme");
    // Awkward floats: shortest round-trip forms, subnormal, negative zero, extremes.
    let v = [0.1_f32, -1.0e-40, -0.0, f32::MAX, f32::MIN_POSITIVE, 1.0 / 3.0];
    let keys = [u64::MAX, 0, 1 << 63];
    repo.store(&acme, "m", &[embedding("h1", &v, &keys)]).await.unwrap();
    let got = repo.get(&acme, "m", "h1").await.unwrap().unwrap();
    assert_eq!(
        got.vector.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        v.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
    assert_eq!(got.bands, keys);

    repo.store(&acme, "m", &[embedding("h1", &[9.0], &[9])]).await.unwrap();
    assert_eq!(repo.get(&acme, "m", "h1").await.unwrap().unwrap().bands, keys);
    repo.store(&acme, "m", &[]).await.unwrap();
}

#[tokio::test]
async fn missing_lists_what_has_no_embedding_of_that_model_in_that_project() {
    let db = TestDatabase::new().await;
    let repo = repo(&db).await;
    let (acme, other) = (ProjectId::new("acme"), ProjectId::new("other"));
    repo.store(&acme, "m", &[embedding("h1", &[1.0], &[1]), embedding("h2", &[1.0], &[2])])
        .await
        .unwrap();
    let hashes: Vec<String> = ["h1", "h2", "h3"].iter().map(|h| (*h).to_owned()).collect();
    assert_eq!(repo.missing(&acme, "m", &hashes).await.unwrap(), ["h3"]);
    assert_eq!(repo.missing(&acme, "m2", &hashes).await.unwrap(), hashes);
    assert_eq!(repo.missing(&other, "m", &hashes).await.unwrap(), hashes);
    assert!(repo.missing(&acme, "m", &[]).await.unwrap().is_empty());
    assert!(repo.get(&other, "m", "h1").await.unwrap().is_none());
    assert!(repo.get(&acme, "m2", "h1").await.unwrap().is_none());
}

#[tokio::test]
async fn candidates_share_a_key_most_shared_first_and_stay_in_their_project_and_model() {
    let db = TestDatabase::new().await;
    let repo = repo(&db).await;
    let (acme, other) = (ProjectId::new("acme"), ProjectId::new("other"));
    repo.store(
        &acme,
        "m",
        &[
            embedding("me", &[1.0], &[1, 2, 3, 4]),
            embedding("one", &[1.0], &[1, 20, 30, 40]),
            embedding("three", &[1.0], &[1, 2, 3, 41]),
            embedding("two", &[1.0], &[10, 2, 3, 42]),
            embedding("none", &[1.0], &[11, 21, 31, 43]),
        ],
    )
    .await
    .unwrap();
    repo.store(&acme, "m2", &[embedding("other-model", &[1.0], &[1, 2, 3, 4])]).await.unwrap();
    repo.store(&other, "m", &[embedding("other-project", &[1.0], &[1, 2, 3, 4])]).await.unwrap();

    let found = repo.candidates(&acme, "m", &[1, 2, 3, 4], "me", 10).await.unwrap();
    let hashes: Vec<&str> = found.iter().map(|e| e.prompt_hash.as_str()).collect();
    assert_eq!(hashes, ["three", "two", "one"]);
    let top = repo.candidates(&acme, "m", &[1, 2, 3, 4], "me", 1).await.unwrap();
    assert_eq!(top.len(), 1);
    assert_eq!(top[0].prompt_hash, "three");
    assert!(repo.candidates(&acme, "m", &[99], "me", 10).await.unwrap().is_empty());
}
