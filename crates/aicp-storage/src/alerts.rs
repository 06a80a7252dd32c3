//! [`PgAlertRepository`] and [`PgWebhookRepository`]: alerts with their durable webhook outbox.
//! Raising an alert and queueing its deliveries is one statement, so an alert is never stored
//! without its deliveries; the outbox is claimed with `FOR UPDATE SKIP LOCKED` and a lease, so
//! several deliverers can run and a dead one's claims come due again.

use aicp_domain::alerts::{Alert, Delivery, NewAlert, Webhook};
use aicp_domain::ports::{AlertRepository, WebhookRepository};
use aicp_domain::{ProjectId, RepoError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int4, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::error::from_query;
use crate::pool::{PgConn, PgPool};
use crate::schema::{alert_outbox, alerts, webhooks};

/// Alerts and the outbox on PostgreSQL.
pub struct PgAlertRepository {
    pool: PgPool,
}

impl PgAlertRepository {
    /// A repository over `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    async fn conn(&self) -> Result<PgConn, RepoError> {
        crate::pool::checkout(&self.pool).await
    }
}

/// The alert (unless its dedupe key exists) and one delivery per webhook of the project.
const RAISE_SQL: &str = "\
WITH a AS (
    INSERT INTO alerts (project_id, id, kind, dedupe_key, budget_id, period_start, threshold_pct, payload, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    ON CONFLICT (project_id, dedupe_key) DO NOTHING
    RETURNING project_id, id
), queued AS (
    INSERT INTO alert_outbox (project_id, alert_id, webhook_id, next_attempt_at)
    SELECT a.project_id, a.id, w.id, $9 FROM a JOIN webhooks w ON w.project_id = a.project_id
)
SELECT count(*) AS n FROM a";

/// Due deliveries (any project), leased until `$2`, with their alert and receiver.
const CLAIM_SQL: &str = "\
WITH due AS (
    SELECT project_id, alert_id, webhook_id FROM alert_outbox
    WHERE delivered_at IS NULL AND next_attempt_at <= $1
    ORDER BY next_attempt_at
    LIMIT $3
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE alert_outbox o SET next_attempt_at = $2
    FROM due
    WHERE o.project_id = due.project_id AND o.alert_id = due.alert_id AND o.webhook_id = due.webhook_id
    RETURNING o.project_id, o.alert_id, o.webhook_id, o.attempts
)
SELECT c.project_id, c.alert_id, c.webhook_id, c.attempts, a.kind, a.budget_id, a.period_start,
       a.threshold_pct, a.payload, a.created_at, w.url, w.secret
FROM claimed c
JOIN alerts a ON a.project_id = c.project_id AND a.id = c.alert_id
JOIN webhooks w ON w.project_id = c.project_id AND w.id = c.webhook_id";

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct ClaimRow {
    #[diesel(sql_type = Text)]
    project_id: String,
    #[diesel(sql_type = SqlUuid)]
    alert_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    webhook_id: Uuid,
    #[diesel(sql_type = Int4)]
    attempts: i32,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    budget_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    period_start: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Int4>)]
    threshold_pct: Option<i32>,
    #[diesel(sql_type = Jsonb)]
    payload: serde_json::Value,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    url: String,
    #[diesel(sql_type = Text)]
    secret: String,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = alerts)]
struct AlertRow {
    id: Uuid,
    kind: String,
    budget_id: Option<Uuid>,
    period_start: Option<DateTime<Utc>>,
    threshold_pct: Option<i32>,
    payload: serde_json::Value,
    created_at: DateTime<Utc>,
}

impl From<AlertRow> for Alert {
    fn from(r: AlertRow) -> Self {
        Alert {
            id: r.id,
            kind: r.kind,
            budget_id: r.budget_id,
            period_start: r.period_start,
            threshold_pct: r.threshold_pct.and_then(|t| u32::try_from(t).ok()),
            payload: r.payload,
            created_at: r.created_at,
        }
    }
}

/// The outbox row of a delivery.
macro_rules! outbox_row {
    ($d:expr) => {
        alert_outbox::table
            .filter(alert_outbox::project_id.eq($d.project.as_str()))
            .filter(alert_outbox::alert_id.eq($d.alert.id))
            .filter(alert_outbox::webhook_id.eq($d.webhook_id))
    };
}

#[async_trait]
impl AlertRepository for PgAlertRepository {
    async fn raise(&self, project: &ProjectId, alert: &NewAlert) -> Result<bool, RepoError> {
        let mut conn = self.conn().await?;
        let row: Count = diesel::sql_query(RAISE_SQL)
            .bind::<Text, _>(project.as_str())
            .bind::<SqlUuid, _>(alert.id)
            .bind::<Text, _>(alert.kind.as_str())
            .bind::<Text, _>(&alert.dedupe_key)
            .bind::<Nullable<SqlUuid>, _>(alert.budget_id)
            .bind::<Nullable<Timestamptz>, _>(alert.period_start)
            .bind::<Nullable<Int4>, _>(alert.threshold_pct.and_then(|t| i32::try_from(t).ok()))
            .bind::<Jsonb, _>(&alert.payload)
            .bind::<Timestamptz, _>(alert.created_at)
            .get_result(&mut conn)
            .await
            .map_err(from_query)?;
        Ok(row.n > 0)
    }

    async fn list(&self, project: &ProjectId, limit: usize) -> Result<Vec<Alert>, RepoError> {
        let mut conn = self.conn().await?;
        let rows: Vec<AlertRow> = alerts::table
            .filter(alerts::project_id.eq(project.as_str()))
            .order_by((alerts::created_at.desc(), alerts::id.desc()))
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .select(AlertRow::as_select())
            .load(&mut conn)
            .await
            .map_err(from_query)?;
        Ok(rows.into_iter().map(Alert::from).collect())
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, RepoError> {
        let mut conn = self.conn().await?;
        let rows: Vec<ClaimRow> = diesel::sql_query(CLAIM_SQL)
            .bind::<Timestamptz, _>(now)
            .bind::<Timestamptz, _>(lease_until)
            .bind::<BigInt, _>(i64::try_from(limit).unwrap_or(i64::MAX))
            .load(&mut conn)
            .await
            .map_err(from_query)?;
        Ok(rows
            .into_iter()
            .map(|r| Delivery {
                project: ProjectId::new(r.project_id),
                alert: Alert {
                    id: r.alert_id,
                    kind: r.kind,
                    budget_id: r.budget_id,
                    period_start: r.period_start,
                    threshold_pct: r.threshold_pct.and_then(|t| u32::try_from(t).ok()),
                    payload: r.payload,
                    created_at: r.created_at,
                },
                webhook_id: r.webhook_id,
                url: r.url,
                secret: r.secret,
                attempts: u32::try_from(r.attempts).unwrap_or(0),
            })
            .collect())
    }

    async fn delivered(&self, d: &Delivery) -> Result<(), RepoError> {
        let mut conn = self.conn().await?;
        diesel::update(outbox_row!(d))
            .set((
                alert_outbox::delivered_at.eq(diesel::dsl::now),
                alert_outbox::attempts.eq(alert_outbox::attempts + 1),
                alert_outbox::last_error.eq(None::<String>),
            ))
            .execute(&mut conn)
            .await
            .map_err(from_query)?;
        Ok(())
    }

    async fn failed(
        &self,
        d: &Delivery,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        let mut conn = self.conn().await?;
        // Bounded: a receiver's error text is not ours to store in full.
        let error: String = error.chars().take(500).collect();
        diesel::update(outbox_row!(d).filter(alert_outbox::delivered_at.is_null()))
            .set((
                alert_outbox::attempts.eq(alert_outbox::attempts + 1),
                alert_outbox::last_error.eq(error),
                alert_outbox::next_attempt_at.eq(retry_at),
            ))
            .execute(&mut conn)
            .await
            .map_err(from_query)?;
        Ok(())
    }
}

/// Webhook receivers on PostgreSQL.
pub struct PgWebhookRepository {
    pool: PgPool,
}

impl PgWebhookRepository {
    /// A repository over `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    async fn conn(&self) -> Result<PgConn, RepoError> {
        crate::pool::checkout(&self.pool).await
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = webhooks)]
struct WebhookRow {
    id: Uuid,
    url: String,
    created_at: DateTime<Utc>,
}

impl From<WebhookRow> for Webhook {
    fn from(r: WebhookRow) -> Self {
        Webhook { id: r.id, url: r.url, created_at: r.created_at }
    }
}

#[async_trait]
impl WebhookRepository for PgWebhookRepository {
    async fn create(
        &self,
        project: &ProjectId,
        url: &str,
        secret: &str,
    ) -> Result<Webhook, RepoError> {
        let mut conn = self.conn().await?;
        let row: WebhookRow = diesel::insert_into(webhooks::table)
            .values((
                webhooks::project_id.eq(project.as_str()),
                webhooks::id.eq(Uuid::now_v7()),
                webhooks::url.eq(url),
                webhooks::secret.eq(secret),
            ))
            .returning(WebhookRow::as_returning())
            .get_result(&mut conn)
            .await
            .map_err(from_query)?;
        Ok(row.into())
    }

    async fn list(&self, project: &ProjectId) -> Result<Vec<Webhook>, RepoError> {
        let mut conn = self.conn().await?;
        let rows: Vec<WebhookRow> = webhooks::table
            .filter(webhooks::project_id.eq(project.as_str()))
            .order_by((webhooks::created_at.asc(), webhooks::id.asc()))
            .select(WebhookRow::as_select())
            .load(&mut conn)
            .await
            .map_err(from_query)?;
        Ok(rows.into_iter().map(Webhook::from).collect())
    }

    async fn delete(&self, project: &ProjectId, id: Uuid) -> Result<bool, RepoError> {
        let mut conn = self.conn().await?;
        let n = diesel::delete(
            webhooks::table
                .filter(webhooks::project_id.eq(project.as_str()))
                .filter(webhooks::id.eq(id)),
        )
        .execute(&mut conn)
        .await
        .map_err(from_query)?;
        Ok(n > 0)
    }
}
