//! [`PgRollupFolder`]: the background fold of `rollup_pending` into the rollups (see
//! docs/ARCHITECTURE.md, "The rollup fold", for why and for the exactly-once argument).
//!
//! One folder at a time across every process on the database: a fold runs in a transaction that
//! first takes a transaction-level advisory lock with `pg_try_advisory_xact_lock`. The lock is
//! released by the commit or abort of that transaction, and by PostgreSQL when the session dies
//! (process killed, connection cut), so another process takes over at its next attempt without
//! any lease or timeout of ours. Exactly-once does not depend on the lock (see
//! [`crate::events::fold_pending_sql`]); the lock only keeps folders from queueing on the same
//! rollup rows.

use aicp_domain::RepoError;
use aicp_domain::ports::{FoldBacklog, FoldOutcome, RollupFolder};
use async_trait::async_trait;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::error::from_query;
use crate::events::fold_pending_sql;
use crate::pool::PgPool;

/// The advisory lock key of the fold (any fixed number no other lock of ours uses).
const FOLD_LOCK: i64 = 0x6169_6370_666f_6c64; // "aicpfold"

/// Folds on PostgreSQL.
#[derive(Clone)]
pub struct PgRollupFolder {
    pool: PgPool,
}

impl PgRollupFolder {
    /// A folder over `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[derive(QueryableByName)]
struct Folded {
    #[diesel(sql_type = BigInt)]
    folded: i64,
    #[diesel(sql_type = BigInt)]
    oldest_wait_ms: i64,
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

#[derive(QueryableByName)]
struct Backlog {
    #[diesel(sql_type = BigInt)]
    events: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    oldest_age_ms: Option<i64>,
}

fn unsigned(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Runs the fold statement for up to `max` rows on `conn`, which must be inside a transaction
/// holding the fold lock.
async fn fold_locked(conn: &mut AsyncPgConnection, max: i32) -> diesel::QueryResult<FoldOutcome> {
    let r: Folded =
        diesel::sql_query(fold_pending_sql()).bind::<Integer, _>(max).get_result(conn).await?;
    Ok(FoldOutcome { folded: unsigned(r.folded), oldest_wait_ms: unsigned(r.oldest_wait_ms) })
}

/// Inside a transaction: waits for the fold lock, then folds everything pending. For writers that
/// change rollups by differences (re-pricing): once nothing of theirs is pending, a difference
/// applied to a rollup row can never meet a pending copy of the old value, and no fold can run
/// until they commit.
pub(crate) async fn fold_everything_locked(
    conn: &mut AsyncPgConnection,
) -> diesel::QueryResult<FoldOutcome> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<BigInt, _>(FOLD_LOCK)
        .execute(conn)
        .await?;
    fold_locked(conn, i32::MAX).await
}

#[async_trait]
impl RollupFolder for PgRollupFolder {
    async fn fold(&self, max_events: u32) -> Result<Option<FoldOutcome>, RepoError> {
        let max = i32::try_from(max_events.max(1)).unwrap_or(i32::MAX);
        let mut conn = crate::pool::checkout(&self.pool).await?;
        conn.transaction::<_, diesel::result::Error, _>(async move |c| {
            let lock: Locked = diesel::sql_query("SELECT pg_try_advisory_xact_lock($1) AS locked")
                .bind::<BigInt, _>(FOLD_LOCK)
                .get_result(c)
                .await?;
            if !lock.locked {
                return Ok(None);
            }
            fold_locked(c, max).await.map(Some)
        })
        .await
        .map_err(from_query)
    }

    async fn backlog(&self) -> Result<FoldBacklog, RepoError> {
        let mut conn = crate::pool::checkout(&self.pool).await?;
        let r: Backlog = diesel::sql_query(
            "SELECT count(*) AS events, (extract(epoch FROM clock_timestamp() - min(queued_at)) \
             * 1000)::bigint AS oldest_age_ms FROM rollup_pending",
        )
        .get_result(&mut conn)
        .await
        .map_err(from_query)?;
        Ok(FoldBacklog { events: unsigned(r.events), oldest_age_ms: r.oldest_age_ms.map(unsigned) })
    }
}
