//! [`PgEventRepository`]: idempotent, durable event inserts with group commit.
//!
//! Why group commit: each commit waits for a WAL flush, so one transaction per HTTP request caps
//! ingest at the disk's flush rate. Requests put their batch on a bounded queue; a few writer
//! tasks each take everything queued (up to a row budget), insert it with one statement, commit,
//! and only then answer every request in the group. A 2xx therefore still means "committed".
//!
//! Why `unnest`: one statement text for any number of rows (one array parameter per column), prepared once,
//! instead of a `VALUES` list whose text and bind count change with every batch size.
//!
//! Rows are sorted by (project, trace, span) before insert so that concurrent transactions take
//! unique-index locks in the same order and cannot deadlock.
//!
//! This module is the queue and the writers; `statement.rs` is the insert statement (a diesel
//! query type over column arrays) and `sql.rs` its SQL text, shared with `cargo xtask seed`.

mod sql;
mod statement;

use std::sync::Arc;

use aicp_domain::{EventBatch, EventRepository, InsertSummary, RepoError};
use async_trait::async_trait;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::error::is_transient;
use crate::pool::PgPool;
use statement::{InsertFailure, insert_retrying};

pub use sql::{ROLLUP_INPUT, fold_into_rollups_sql, fold_pending_sql, prompt_fold_cte};
pub(crate) use statement::array_text;

/// Group-commit settings.
#[derive(Debug, Clone)]
pub struct GroupCommitConfig {
    /// Writer tasks (each holds at most one connection while writing).
    pub writers: usize,
    /// Requests that may wait in the queue; beyond it a request is refused at once (503).
    pub queue_capacity: usize,
    /// Most rows one writer puts into one transaction.
    pub max_rows_per_commit: usize,
}

impl Default for GroupCommitConfig {
    fn default() -> Self {
        Self { writers: 2, queue_capacity: 1024, max_rows_per_commit: 4000 }
    }
}

struct Job {
    batch: EventBatch,
    reply: oneshot::Sender<Result<InsertSummary, RepoError>>,
}

/// Event store on PostgreSQL. Cheap to share behind an `Arc`; when the last handle is dropped the
/// writers finish the queued work and stop (await [`WriterHandle::join`]).
pub struct PgEventRepository {
    queue: mpsc::Sender<Job>,
}

/// The writer tasks of a [`PgEventRepository`]. Dropping it detaches them (they still drain the
/// queue and stop when the repository is dropped).
pub struct WriterHandle {
    tasks: Vec<JoinHandle<()>>,
}

impl WriterHandle {
    /// Waits until every writer has drained the queue and stopped. Call after dropping every
    /// handle to the repository.
    pub async fn join(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

impl PgEventRepository {
    /// Starts the writer tasks on the current tokio runtime.
    pub fn start(pool: PgPool, config: &GroupCommitConfig) -> (Self, WriterHandle) {
        let (queue, rx) = mpsc::channel(config.queue_capacity.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let mut tasks = Vec::new();
        for _ in 0..config.writers.max(1) {
            let writer = Writer {
                pool: pool.clone(),
                rx: Arc::clone(&rx),
                max_rows: config.max_rows_per_commit.max(1),
            };
            tasks.push(tokio::spawn(writer.run()));
        }
        (Self { queue }, WriterHandle { tasks })
    }
}

#[async_trait]
impl EventRepository for PgEventRepository {
    async fn insert_batch(&self, batch: EventBatch) -> Result<InsertSummary, RepoError> {
        if batch.events.is_empty() {
            return Ok(InsertSummary::default());
        }
        let (reply, answer) = oneshot::channel();
        self.queue.try_send(Job { batch, reply }).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => RepoError::Overloaded,
            mpsc::error::TrySendError::Closed(_) => {
                RepoError::Unavailable("event writer stopped".to_owned())
            }
        })?;
        answer
            .await
            .map_err(|_| RepoError::Unexpected(anyhow::anyhow!("event writer dropped a request")))?
    }
}

struct Writer {
    pool: PgPool,
    rx: Arc<Mutex<mpsc::Receiver<Job>>>,
    max_rows: usize,
}

impl Writer {
    async fn run(self) {
        while let Some(group) = self.next_group().await {
            self.commit_group(group).await;
        }
    }

    /// Waits for one job, then takes whatever else is queued, up to the row budget.
    async fn next_group(&self) -> Option<Vec<Job>> {
        let mut rx = self.rx.lock().await;
        let first = rx.recv().await?;
        let mut rows = first.batch.events.len();
        let mut group = vec![first];
        while rows < self.max_rows {
            match rx.try_recv() {
                Ok(job) => {
                    rows += job.batch.events.len();
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        Some(group)
    }

    async fn commit_group(&self, group: Vec<Job>) {
        let batches: Vec<&EventBatch> = group.iter().map(|j| &j.batch).collect();
        match insert_retrying(&self.pool, &batches).await {
            Ok(summaries) => {
                for (job, summary) in group.into_iter().zip(summaries) {
                    let _ = job.reply.send(Ok(summary));
                }
            }
            // One request's data must not fail the others: retry each on its own unless the
            // database itself is the problem.
            Err(InsertFailure::Query(e)) if group.len() > 1 && !is_transient(&e) => {
                tracing::warn!(error = %e, requests = group.len(), "grouped insert failed; retrying requests one by one");
                for job in group {
                    let result = insert_retrying(&self.pool, &[&job.batch])
                        .await
                        .map_err(InsertFailure::into_repo);
                    let _ = job.reply.send(result.map(|mut s| s.remove(0)));
                }
            }
            Err(failure) => {
                let reason = failure.to_string();
                tracing::warn!(error = %reason, requests = group.len(), "event insert failed");
                let transient = failure.is_transient();
                for job in group {
                    let err = if transient {
                        RepoError::Unavailable(reason.clone())
                    } else {
                        RepoError::Unexpected(anyhow::anyhow!("{reason}"))
                    };
                    let _ = job.reply.send(Err(err));
                }
            }
        }
    }
}
