//! [`PgKeyStore`]: projects and API keys (digests only) through diesel's query builder.

use aicp_domain::auth::{ActiveKey, KeyInfo, KeyStore};
use aicp_domain::{ProjectId, RepoError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::from_query;
use crate::pool::{PgConn, PgPool};
use crate::schema::{api_keys, projects};

/// API keys on PostgreSQL.
pub struct PgKeyStore {
    pool: PgPool,
}

impl PgKeyStore {
    /// A store over `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    async fn conn(&self) -> Result<PgConn, RepoError> {
        crate::pool::checkout(&self.pool).await
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = api_keys)]
struct KeyRow {
    id: Uuid,
    project_id: String,
    name: String,
    display: String,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<KeyRow> for KeyInfo {
    fn from(r: KeyRow) -> Self {
        let ts = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        KeyInfo {
            id: r.id,
            project: r.project_id,
            name: r.name,
            display: r.display,
            created_at: ts(r.created_at),
            revoked_at: r.revoked_at.map(ts),
        }
    }
}

#[async_trait]
impl KeyStore for PgKeyStore {
    async fn find(&self, digest: [u8; 32]) -> Result<Option<ActiveKey>, RepoError> {
        let mut conn = self.conn().await?;
        let row: Option<(Uuid, String)> = api_keys::table
            .filter(api_keys::digest.eq(digest.to_vec()))
            .filter(api_keys::revoked_at.is_null())
            .select((api_keys::id, api_keys::project_id))
            .first(&mut conn)
            .await
            .optional()
            .map_err(from_query)?;
        Ok(row.map(|(id, p)| ActiveKey { id, project: ProjectId::new(p) }))
    }

    async fn any_active(&self) -> Result<bool, RepoError> {
        let mut conn = self.conn().await?;
        diesel::select(diesel::dsl::exists(api_keys::table.filter(api_keys::revoked_at.is_null())))
            .get_result(&mut conn)
            .await
            .map_err(from_query)
    }

    async fn create(
        &self,
        project: &ProjectId,
        name: &str,
        digest: [u8; 32],
        display: &str,
    ) -> Result<KeyInfo, RepoError> {
        let project = project.as_str().to_owned();
        let (name, display) = (name.to_owned(), display.to_owned());
        let mut conn = self.conn().await?;
        let row: KeyRow = conn
            .transaction::<_, diesel::result::Error, _>(async move |c| {
                diesel::insert_into(projects::table)
                    .values(projects::id.eq(&project))
                    .on_conflict_do_nothing()
                    .execute(c)
                    .await?;
                diesel::insert_into(api_keys::table)
                    .values((
                        api_keys::id.eq(Uuid::now_v7()),
                        api_keys::project_id.eq(&project),
                        api_keys::name.eq(&name),
                        api_keys::digest.eq(digest.to_vec()),
                        api_keys::display.eq(&display),
                    ))
                    .returning(KeyRow::as_returning())
                    .get_result(c)
                    .await
            })
            .await
            .map_err(from_query)?;
        Ok(row.into())
    }

    async fn list(&self, project: &ProjectId) -> Result<Vec<KeyInfo>, RepoError> {
        let mut conn = self.conn().await?;
        let rows: Vec<KeyRow> = api_keys::table
            .filter(api_keys::project_id.eq(project.as_str()))
            .order_by(api_keys::created_at.desc())
            .select(KeyRow::as_select())
            .load(&mut conn)
            .await
            .map_err(from_query)?;
        Ok(rows.into_iter().map(KeyInfo::from).collect())
    }

    async fn revoke(&self, project: &ProjectId, id: Uuid) -> Result<bool, RepoError> {
        let mut conn = self.conn().await?;
        let n = diesel::update(
            api_keys::table
                .filter(api_keys::id.eq(id))
                .filter(api_keys::project_id.eq(project.as_str()))
                .filter(api_keys::revoked_at.is_null()),
        )
        .set(api_keys::revoked_at.eq(diesel::dsl::now))
        .execute(&mut conn)
        .await
        .map_err(from_query)?;
        Ok(n > 0)
    }
}
