//! [`SemanticIndexer`]: the background worker that embeds each new distinct prompt once, off the
//! ingest path, and stores its vector with its hyperplane band keys.
//!
//! Ingest offers the distinct prompts of every committed batch ([`PromptSink`]); the offer only
//! pushes onto a bounded queue and never waits, so a slow or failing embeddings provider cannot
//! slow ingestion down or lose an event. The worker takes up to `batch` prompts at a time, groups
//! them by project, skips those already embedded (repeats are the common case), calls the provider
//! once per group, and stores the vectors idempotently.
//!
//! Failures: a provider that is unavailable (timeout, 429, 5xx) is retried with exponential
//! backoff; a refused batch is split so that one bad input (too long, say) does not cost the
//! others; what still fails is counted and logged, and those prompts simply have no embedding
//! (their exact and MinHash fingerprints, stored with the event, are unaffected). A full queue skips
//! new prompts the same way. The counters are reported by `/health`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aicp_domain::embedding::{EmbedError, Embedder, PendingPrompt, PromptSink, VectorSigner};
use aicp_domain::{EmbeddingRepository, ProjectId, PromptEmbedding};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How the worker batches, queues and retries.
#[derive(Debug, Clone, Copy)]
pub struct IndexerSettings {
    /// Most prompts per provider request.
    pub batch: usize,
    /// Queue capacity, in prompts.
    pub queue: usize,
    /// Longest text sent, in characters (longer texts are cut).
    pub max_chars: usize,
    /// Attempts per request when the provider is unavailable.
    pub attempts: u32,
    /// Wait before the first retry (doubled at each retry).
    pub backoff: Duration,
}

impl Default for IndexerSettings {
    fn default() -> Self {
        Self {
            batch: 64,
            queue: 10_000,
            max_chars: 16_000,
            attempts: 4,
            backoff: Duration::from_millis(500),
        }
    }
}

/// What the worker has done since start-up.
#[derive(Debug, Default)]
pub struct IndexerStats {
    queued: AtomicU64,
    embedded: AtomicU64,
    already_embedded: AtomicU64,
    skipped_queue_full: AtomicU64,
    failed: AtomicU64,
}

/// A snapshot of [`IndexerStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexerCounts {
    /// Prompts accepted onto the queue.
    pub queued: u64,
    /// Prompts embedded and stored.
    pub embedded: u64,
    /// Prompts that already had an embedding (not sent again).
    pub already_embedded: u64,
    /// Prompts not queued because the queue was full.
    pub skipped_queue_full: u64,
    /// Prompts given up on (provider refused or stayed unavailable, or the store failed).
    pub failed: u64,
}

impl IndexerStats {
    /// Current counts.
    pub fn counts(&self) -> IndexerCounts {
        IndexerCounts {
            queued: self.queued.load(Ordering::Relaxed),
            embedded: self.embedded.load(Ordering::Relaxed),
            already_embedded: self.already_embedded.load(Ordering::Relaxed),
            skipped_queue_full: self.skipped_queue_full.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(n as u64, Ordering::Relaxed);
}

struct Job {
    project: ProjectId,
    prompt: PendingPrompt,
}

/// The [`PromptSink`] side of the worker: a bounded queue.
pub struct SemanticIndexer {
    tx: mpsc::Sender<Job>,
    stats: Arc<IndexerStats>,
    max_chars: usize,
}

impl SemanticIndexer {
    /// Starts the worker on the current tokio runtime. It stops when every handle to the indexer
    /// is dropped and the queue is drained.
    pub fn start(
        embedder: Arc<dyn Embedder>,
        signer: Arc<dyn VectorSigner>,
        repo: Arc<dyn EmbeddingRepository>,
        settings: IndexerSettings,
    ) -> (Arc<Self>, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(settings.queue.max(1));
        let stats = Arc::new(IndexerStats::default());
        let worker = Worker { embedder, signer, repo, settings, stats: Arc::clone(&stats) };
        let handle = tokio::spawn(worker.run(rx));
        (Arc::new(Self { tx, stats, max_chars: settings.max_chars }), handle)
    }

    /// The worker's counters.
    pub fn stats(&self) -> IndexerCounts {
        self.stats.counts()
    }
}

impl PromptSink for SemanticIndexer {
    fn offer(&self, project: &ProjectId, prompts: Vec<PendingPrompt>) {
        for mut prompt in prompts {
            let kept = aicp_domain::text::char_prefix(&prompt.text, self.max_chars).len();
            prompt.text.truncate(kept);
            match self.tx.try_send(Job { project: project.clone(), prompt }) {
                Ok(()) => add(&self.stats.queued, 1),
                Err(_) => {
                    let skipped = self.stats.skipped_queue_full.fetch_add(1, Ordering::Relaxed);
                    // One line for the first skip, then one per thousand: no log flood.
                    if skipped.is_multiple_of(1000) {
                        tracing::warn!(
                            skipped = skipped + 1,
                            "embeddings queue full: prompts skipped (they keep their fingerprints)"
                        );
                    }
                }
            }
        }
    }
}

struct Worker {
    embedder: Arc<dyn Embedder>,
    signer: Arc<dyn VectorSigner>,
    repo: Arc<dyn EmbeddingRepository>,
    settings: IndexerSettings,
    stats: Arc<IndexerStats>,
}

impl Worker {
    async fn run(self, mut rx: mpsc::Receiver<Job>) {
        let batch = self.settings.batch.max(1);
        let mut jobs = Vec::with_capacity(batch);
        while rx.recv_many(&mut jobs, batch).await > 0 {
            let mut by_project: BTreeMap<String, (ProjectId, Vec<PendingPrompt>)> = BTreeMap::new();
            for job in jobs.drain(..) {
                let entry = by_project
                    .entry(job.project.as_str().to_owned())
                    .or_insert_with(|| (job.project.clone(), Vec::new()));
                if !entry.1.iter().any(|p| p.hash == job.prompt.hash) {
                    entry.1.push(job.prompt);
                }
            }
            for (_, (project, prompts)) in by_project {
                self.index(&project, prompts).await;
            }
        }
    }

    /// Embeds and stores those of `prompts` that have no embedding yet.
    async fn index(&self, project: &ProjectId, prompts: Vec<PendingPrompt>) {
        let model = self.embedder.model();
        let hashes: Vec<String> = prompts.iter().map(|p| p.hash.clone()).collect();
        let missing = match self.repo.missing(project, &model, &hashes).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "embeddings: cannot read stored embeddings");
                add(&self.stats.failed, prompts.len());
                return;
            }
        };
        add(&self.stats.already_embedded, prompts.len() - missing.len().min(prompts.len()));
        let todo: Vec<PendingPrompt> =
            prompts.into_iter().filter(|p| missing.contains(&p.hash)).collect();
        if todo.is_empty() {
            return;
        }
        let mut rows = Vec::with_capacity(todo.len());
        for (prompt, vector) in self.embed_all(&todo).await {
            let bands = self.signer.band_keys(&vector);
            rows.push(PromptEmbedding { prompt_hash: prompt.hash.clone(), vector, bands });
        }
        add(&self.stats.failed, todo.len() - rows.len());
        if rows.is_empty() {
            return;
        }
        match self.repo.store(project, &model, &rows).await {
            Ok(()) => add(&self.stats.embedded, rows.len()),
            Err(e) => {
                tracing::warn!(error = %e, prompts = rows.len(), "embeddings: cannot store");
                add(&self.stats.failed, rows.len());
            }
        }
    }

    /// The vectors of those of `prompts` the provider embedded; a refused batch is retried one
    /// prompt at a time so that one bad input costs only itself.
    async fn embed_all<'a>(
        &self,
        prompts: &'a [PendingPrompt],
    ) -> Vec<(&'a PendingPrompt, Vec<f32>)> {
        match self.embed_with_retry(prompts).await {
            Ok(vectors) => prompts.iter().zip(vectors).collect(),
            Err(EmbedError::Rejected(_) | EmbedError::Malformed(_)) if prompts.len() > 1 => {
                let mut out = Vec::new();
                for prompt in prompts {
                    match self.embed_with_retry(std::slice::from_ref(prompt)).await {
                        Ok(mut v) if v.len() == 1 => out.push((prompt, v.remove(0))),
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, hash = %prompt.hash, "embeddings: prompt refused");
                        }
                    }
                }
                out
            }
            Err(e) => {
                tracing::warn!(error = %e, prompts = prompts.len(), "embeddings: gave up");
                Vec::new()
            }
        }
    }

    async fn embed_with_retry(
        &self,
        prompts: &[PendingPrompt],
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let texts: Vec<String> = prompts.iter().map(|p| p.text.clone()).collect();
        let mut wait = self.settings.backoff;
        let mut attempt = 1;
        loop {
            match self.embedder.embed(&texts).await {
                Err(e) if e.is_retryable() && attempt < self.settings.attempts.max(1) => {
                    tracing::debug!(error = %e, attempt, "embeddings: retrying");
                    tokio::time::sleep(wait).await;
                    wait = wait.saturating_mul(2);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use aicp_domain::RepoError;
    use aicp_domain::embedding::{MockEmbedder, MockVectorSigner};
    use aicp_domain::ports::MockEmbeddingRepository;

    use super::*;

    fn prompt(hash: &str, text: &str) -> PendingPrompt {
        PendingPrompt { hash: hash.into(), text: text.into() }
    }

    fn signer() -> Arc<dyn VectorSigner> {
        let mut s = MockVectorSigner::new();
        s.expect_band_keys().returning(|v| vec![v.len() as u64]);
        Arc::new(s)
    }

    fn fast() -> IndexerSettings {
        IndexerSettings { backoff: Duration::from_millis(1), ..IndexerSettings::default() }
    }

    /// A repository where `known` hashes are embedded already and stored rows are recorded.
    fn recording_repo(
        known: &'static [&'static str],
    ) -> (MockEmbeddingRepository, Arc<Mutex<Vec<String>>>) {
        let stored = Arc::new(Mutex::new(Vec::new()));
        let mut repo = MockEmbeddingRepository::new();
        repo.expect_missing().returning(move |_, _, hashes| {
            Ok(hashes.iter().filter(|h| !known.contains(&h.as_str())).cloned().collect())
        });
        let sink = Arc::clone(&stored);
        repo.expect_store().returning(move |_, model, rows| {
            assert_eq!(model, "m");
            for r in rows {
                assert_eq!(r.bands, vec![r.vector.len() as u64]);
                sink.lock().unwrap().push(r.prompt_hash.clone());
            }
            Ok(())
        });
        (repo, stored)
    }

    async fn drain(indexer: Arc<SemanticIndexer>, handle: JoinHandle<()>) -> IndexerCounts {
        let counts_of = Arc::clone(&indexer.stats);
        drop(indexer);
        handle.await.unwrap();
        counts_of.counts()
    }

    #[tokio::test]
    async fn new_prompts_are_embedded_once_and_known_ones_are_not_sent() {
        let mut embedder = MockEmbedder::new();
        embedder.expect_model().return_const("m".to_owned());
        let sent = Arc::new(Mutex::new(Vec::<String>::new()));
        let seen = Arc::clone(&sent);
        embedder.expect_embed().returning(move |texts| {
            seen.lock().unwrap().extend(texts.iter().cloned());
            Ok(texts.iter().map(|t| vec![1.0; t.len()]).collect())
        });
        let (repo, stored) = recording_repo(&["known"]);
        let (indexer, handle) =
            SemanticIndexer::start(Arc::new(embedder), signer(), Arc::new(repo), fast());
        let p = ProjectId::new("acme");
        indexer.offer(&p, vec![prompt("a", "alpha"), prompt("known", "old")]);
        indexer.offer(&p, vec![prompt("a", "alpha"), prompt("b", "beta")]);
        let counts = drain(indexer, handle).await;
        let mut stored = stored.lock().unwrap().clone();
        stored.sort();
        assert_eq!(stored, ["a", "b"]);
        assert!(!sent.lock().unwrap().contains(&"old".to_owned()));
        assert_eq!(counts.queued, 4);
        assert_eq!(counts.embedded, 2);
        assert_eq!(counts.failed, 0);
    }

    #[tokio::test]
    async fn an_unavailable_provider_is_retried_then_given_up_on() {
        let calls = Arc::new(AtomicU64::new(0));
        let mut embedder = MockEmbedder::new();
        embedder.expect_model().return_const("m".to_owned());
        let n = Arc::clone(&calls);
        embedder.expect_embed().returning(move |texts| {
            // Fails twice, then answers.
            if n.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(EmbedError::Unavailable("503".into()))
            } else {
                Ok(texts.iter().map(|_| vec![0.5, 0.5]).collect())
            }
        });
        let (repo, stored) = recording_repo(&[]);
        let (indexer, handle) =
            SemanticIndexer::start(Arc::new(embedder), signer(), Arc::new(repo), fast());
        indexer.offer(&ProjectId::new("acme"), vec![prompt("a", "alpha")]);
        let counts = drain(indexer, handle).await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(*stored.lock().unwrap(), ["a"]);
        assert_eq!(counts.embedded, 1);

        let mut down = MockEmbedder::new();
        down.expect_model().return_const("m".to_owned());
        down.expect_embed().times(3).returning(|_| Err(EmbedError::Unavailable("down".into())));
        let (repo, stored) = recording_repo(&[]);
        let settings = IndexerSettings { attempts: 3, ..fast() };
        let (indexer, handle) =
            SemanticIndexer::start(Arc::new(down), signer(), Arc::new(repo), settings);
        indexer.offer(&ProjectId::new("acme"), vec![prompt("a", "alpha"), prompt("b", "beta")]);
        let counts = drain(indexer, handle).await;
        assert!(stored.lock().unwrap().is_empty());
        assert_eq!((counts.embedded, counts.failed), (0, 2));
    }

    #[tokio::test]
    async fn a_refused_batch_is_split_so_only_the_bad_prompt_is_lost() {
        let mut embedder = MockEmbedder::new();
        embedder.expect_model().return_const("m".to_owned());
        embedder.expect_embed().returning(|texts| {
            if texts.iter().any(|t| t == "too long") {
                Err(EmbedError::Rejected("HTTP 400".into()))
            } else {
                Ok(texts.iter().map(|_| vec![1.0]).collect())
            }
        });
        let (repo, stored) = recording_repo(&[]);
        let (indexer, handle) =
            SemanticIndexer::start(Arc::new(embedder), signer(), Arc::new(repo), fast());
        indexer.offer(
            &ProjectId::new("acme"),
            vec![prompt("a", "alpha"), prompt("x", "too long"), prompt("b", "beta")],
        );
        let counts = drain(indexer, handle).await;
        let mut stored = stored.lock().unwrap().clone();
        stored.sort();
        assert_eq!(stored, ["a", "b"]);
        assert_eq!((counts.embedded, counts.failed), (2, 1));
    }

    #[tokio::test]
    async fn a_failing_store_counts_as_failed_and_the_worker_goes_on() {
        let mut embedder = MockEmbedder::new();
        embedder.expect_model().return_const("m".to_owned());
        embedder.expect_embed().returning(|texts| Ok(texts.iter().map(|_| vec![1.0]).collect()));
        let mut repo = MockEmbeddingRepository::new();
        repo.expect_missing()
            .returning(|_, _, _| Err(RepoError::Unavailable("db down".into())))
            .times(1);
        repo.expect_missing().returning(|_, _, h| Ok(h.to_vec()));
        repo.expect_store().returning(|_, _, _| Err(RepoError::Unavailable("db down".into())));
        let (indexer, handle) =
            SemanticIndexer::start(Arc::new(embedder), signer(), Arc::new(repo), fast());
        indexer.offer(&ProjectId::new("a"), vec![prompt("a", "alpha")]);
        indexer.offer(&ProjectId::new("b"), vec![prompt("b", "beta")]);
        let counts = drain(indexer, handle).await;
        assert_eq!((counts.embedded, counts.failed), (0, 2));
    }

    #[tokio::test]
    async fn a_full_queue_skips_prompts_without_blocking_and_texts_are_cut() {
        let texts = Arc::new(Mutex::new(Vec::<String>::new()));
        let mut embedder = MockEmbedder::new();
        embedder.expect_model().return_const("m".to_owned());
        let seen = Arc::clone(&texts);
        embedder.expect_embed().returning(move |t| {
            seen.lock().unwrap().extend(t.iter().cloned());
            Ok(t.iter().map(|_| vec![1.0]).collect())
        });
        let mut repo = MockEmbeddingRepository::new();
        repo.expect_missing().returning(|_, _, h| Ok(h.to_vec()));
        repo.expect_store().returning(|_, _, _| Ok(()));
        let settings = IndexerSettings { queue: 2, batch: 1, max_chars: 3, ..fast() };
        let (indexer, handle) =
            SemanticIndexer::start(Arc::new(embedder), signer(), Arc::new(repo), settings);
        // A current-thread runtime and no await between the offers: the worker cannot take
        // anything off the queue before all four are offered.
        indexer.offer(
            &ProjectId::new("acme"),
            vec![prompt("a", "alphabet"), prompt("b", "bé€ta"), prompt("c", "c"), prompt("d", "d")],
        );
        let counts = drain(indexer, handle).await;
        assert_eq!((counts.queued, counts.skipped_queue_full), (2, 2));
        assert_eq!(*texts.lock().unwrap(), ["alp", "bé€"]);
    }
}
