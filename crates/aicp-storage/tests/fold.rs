//! The rollup fold against the real PostgreSQL: every committed event is folded exactly once,
//! whatever happens to the folding transaction (its backend killed mid-statement, several
//! folders racing with writers), and the fold lock passes to another folder when its holder's
//! session dies.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions: a failed setup should panic, not be handled"
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use aicp_domain::ports::RollupFolder;
use aicp_domain::pricing::original_fallback;
use aicp_domain::{Catalogue, EventBatch, EventRepository, PriceBook, ProjectId, RepoError};
use aicp_storage::{GroupCommitConfig, PgEventRepository, PgRollupFolder, PoolConfig, build_pool};
use aicp_test_support::{
    TestDatabase, orphan_or_duplicate_pending, pending_events, rollup_mismatches,
    terminate_when_active,
};
use common::{fold_all, random_event};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Inserts `n` random events of project `p` (spans from `first`), in batches of 500.
async fn ingest(repo: &PgEventRepository, first: usize, n: usize, seed: u64) {
    let book = PriceBook::new(&Catalogue::builtin().unwrap(), &[], original_fallback());
    let mut rng = StdRng::seed_from_u64(seed);
    let project = ProjectId::new("p");
    for start in (first..first + n).step_by(500) {
        let events = (start..(start + 500).min(first + n))
            .map(|i| random_event(&mut rng, &book, &project, i))
            .collect();
        repo.insert_batch(EventBatch { project: project.clone(), events }).await.unwrap();
    }
}

fn setup(db: &TestDatabase) -> (aicp_storage::PgPool, PgEventRepository) {
    let pool = build_pool(&PoolConfig::new(db.url())).unwrap();
    let (repo, _writers) = PgEventRepository::start(pool.clone(), &GroupCommitConfig::default());
    (pool, repo)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fold_whose_backend_is_killed_mid_statement_folds_nothing_and_loses_nothing() {
    let db = TestDatabase::new().await;
    let (pool, repo) = setup(&db);
    let folder = PgRollupFolder::new(pool);
    let client = db.client().await;
    let mut killed = 0;
    // Each round queues a large backlog and kills the fold's backend while its statement runs.
    for round in 0..3 {
        ingest(&repo, round * 20_000, 20_000, round as u64).await;
        let fold = {
            let folder = folder.clone();
            tokio::spawn(async move { folder.fold(1_000_000).await })
        };
        let terminated =
            terminate_when_active(&client, "WITH ins AS (DELETE FROM rollup_pending%", 2_000)
                .await
                .unwrap();
        let result = fold.await.unwrap();
        if terminated && result.is_err() {
            killed += 1;
            // Nothing of the killed fold remains: every event is still pending.
            assert_eq!(pending_events(&client).await.unwrap(), 20_000);
            assert!(matches!(result, Err(RepoError::Unavailable(_))), "{result:?}");
        }
        fold_all(&folder).await;
        assert_eq!(pending_events(&client).await.unwrap(), 0);
        assert_eq!(rollup_mismatches(&client).await.unwrap(), 0, "round {round}");
    }
    assert!(killed > 0, "no fold was caught mid-statement: the test proved nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_folder_at_a_time_and_a_dead_holders_lock_passes_to_the_next_folder() {
    let db = TestDatabase::new().await;
    let (pool, repo) = setup(&db);
    let folder = PgRollupFolder::new(pool);
    ingest(&repo, 0, 1_000, 1).await;
    // Another "process" holds the fold lock in an open transaction.
    let holder = db.client().await;
    holder.batch_execute("BEGIN; SELECT pg_advisory_xact_lock(7019250828639693924)").await.unwrap();
    let pid: i32 = holder.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    assert_eq!(folder.fold(10_000).await.unwrap(), None, "a second folder must stand back");
    let client = db.client().await;
    assert_eq!(pending_events(&client).await.unwrap(), 1_000);
    // The holder dies (its process killed): PostgreSQL ends the session and its lock.
    client.execute("SELECT pg_terminate_backend($1)", &[&pid]).await.unwrap();
    let mut folded = None;
    for _ in 0..500 {
        folded = folder.fold(10_000).await.unwrap();
        if folded.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(folded.map(|o| o.folded), Some(1_000));
    assert_eq!(rollup_mismatches(&client).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_folders_and_writers_fold_every_event_exactly_once() {
    let db = TestDatabase::new().await;
    let (pool, repo) = setup(&db);
    let repo = Arc::new(repo);
    let folders: Vec<PgRollupFolder> = (0..3).map(|_| PgRollupFolder::new(pool.clone())).collect();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for folder in folders.clone() {
        let stop = Arc::clone(&stop);
        tasks.push(tokio::spawn(async move {
            let (mut folded, mut busy) = (0u64, 0u64);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match folder.fold(700).await.unwrap() {
                    Some(o) => folded += o.folded,
                    None => busy += 1,
                }
            }
            (folded, busy)
        }));
    }
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let repo = Arc::clone(&repo);
            tokio::spawn(async move { ingest(&repo, w * 10_000, 6_000, 10 + w as u64).await })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut folded_by_racers = 0;
    for t in tasks {
        folded_by_racers += t.await.unwrap().0;
    }
    let client = db.client().await;
    assert_eq!(orphan_or_duplicate_pending(&client).await.unwrap(), 0);
    let rest = fold_all(&folders[0]).await;
    assert_eq!(folded_by_racers + rest, 18_000, "every event folded exactly once");
    assert_eq!(rollup_mismatches(&client).await.unwrap(), 0);
}
