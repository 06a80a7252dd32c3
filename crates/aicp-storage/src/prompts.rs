//! [`PgPromptRepository`]: prompt fingerprints for repeats and near-duplicates.

use aicp_domain::ports::{EventPrompt, FeatureMedian};
use aicp_domain::{
    EmbeddingRepository, ProjectId, PromptEmbedding, PromptModelRow, PromptRepository, RepoError,
    StoredPrompt, TimeWindow, Usd,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Double, Float4, Int4, Int8, Nullable, Numeric, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::error::from_query;
use crate::pool::{PgConn, PgPool};

/// Prompts on PostgreSQL.
pub struct PgPromptRepository {
    pool: PgPool,
}

impl PgPromptRepository {
    /// A repository over `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    async fn conn(&self) -> Result<PgConn, RepoError> {
        crate::pool::checkout(&self.pool).await
    }
}

#[derive(QueryableByName)]
struct GroupSql {
    #[diesel(sql_type = Text)]
    prompt_hash: String,
    #[diesel(sql_type = Text)]
    template_hash: String,
    #[diesel(sql_type = Nullable<Text>)]
    content: Option<String>,
    #[diesel(sql_type = Text)]
    model: String,
    #[diesel(sql_type = Text)]
    feature: String,
    #[diesel(sql_type = Int8)]
    calls: i64,
    #[diesel(sql_type = Numeric)]
    cost: Decimal,
    #[diesel(sql_type = Numeric)]
    tokens: Decimal,
    #[diesel(sql_type = Numeric)]
    uncached: Decimal,
    #[diesel(sql_type = Numeric)]
    input: Decimal,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    latest_id: Uuid,
    #[diesel(sql_type = Timestamptz)]
    latest_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Array<Nullable<Int4>>>)]
    signature: Option<Vec<Option<i32>>>,
    #[diesel(sql_type = Nullable<Array<Nullable<Int8>>>)]
    bands: Option<Vec<Option<i64>>>,
    #[diesel(sql_type = Nullable<Int4>)]
    scheme: Option<i32>,
}

fn whole(d: Decimal) -> u64 {
    let t = d.trunc();
    u64::try_from(t.mantissa() / 10i128.pow(t.scale())).unwrap_or(0)
}

fn signature(v: Option<Vec<Option<i32>>>) -> Vec<u32> {
    v.unwrap_or_default().into_iter().flatten().map(i32::cast_unsigned).collect()
}

fn bands(v: Option<Vec<Option<i64>>>) -> Vec<u64> {
    v.unwrap_or_default().into_iter().flatten().map(i64::cast_unsigned).collect()
}

impl From<GroupSql> for PromptModelRow {
    fn from(r: GroupSql) -> Self {
        PromptModelRow {
            prompt_hash: r.prompt_hash,
            template_hash: r.template_hash,
            content: r.content,
            model: r.model,
            feature: r.feature,
            calls: u64::try_from(r.calls).unwrap_or(0),
            cost: Usd::new(r.cost),
            tokens: whole(r.tokens),
            uncached_input_tokens: whole(r.uncached),
            input_tokens: whole(r.input),
            latest_id: r.latest_id,
            latest_at: r.latest_at,
            signature: signature(r.signature),
            bands: bands(r.bands),
            scheme: r.scheme.map(i32::cast_unsigned),
        }
    }
}

/// Aggregates per (prompt, model) over the rows of `w` whose prompt is among `top`, with each
/// prompt's fingerprint (`$1` must be the project). `w` reads only columns of
/// `events_prompt_calls_idx`, so the aggregation is an index-only scan; the text of each prompt's
/// latest call is then read by id, and the fingerprint joined once per prompt after grouping.
fn grouped(w: &str, top_order: &str, limit: usize) -> String {
    format!(
        "WITH w AS ({w}), \
         top AS (SELECT prompt_hash FROM w GROUP BY prompt_hash ORDER BY {top_order}, prompt_hash LIMIT {limit}), \
         latest AS (SELECT DISTINCT ON (w.prompt_hash) w.prompt_hash, w.id, w.created_at \
            FROM w JOIN top USING (prompt_hash) ORDER BY w.prompt_hash, w.created_at DESC, w.id DESC), \
         feat AS (SELECT DISTINCT ON (prompt_hash) prompt_hash, feature FROM \
            (SELECT w.prompt_hash, w.feature, count(*) AS c FROM w JOIN top USING (prompt_hash) GROUP BY 1, 2) x \
            ORDER BY prompt_hash, c DESC, feature), \
         agg AS (SELECT w.prompt_hash, w.model, count(*) AS calls, sum(w.verified_cost_usd) AS cost, \
            sum(w.input_tokens::bigint + w.output_tokens)::numeric AS tokens, \
            sum(greatest(w.input_tokens - w.cached_tokens - w.cache_write_tokens, 0))::numeric AS uncached, \
            sum(w.input_tokens)::numeric AS input FROM w JOIN top USING (prompt_hash) GROUP BY 1, 2) \
         SELECT a.prompt_hash, coalesce(pf.template_hash, e.template_hash, a.prompt_hash) AS template_hash, \
            e.prompt_text AS content, a.model, f.feature, a.calls, a.cost, a.tokens, a.uncached, a.input, \
            l.id AS latest_id, l.created_at AS latest_at, pf.signature, pf.bands, pf.scheme \
         FROM agg a JOIN latest l USING (prompt_hash) JOIN feat f USING (prompt_hash) \
         JOIN events e ON e.id = l.id \
         LEFT JOIN prompt_fingerprints pf ON pf.project_id = $1 AND pf.prompt_hash = a.prompt_hash"
    )
}

const W_COLUMNS: &str = "id, created_at, prompt_hash, model, feature, verified_cost_usd, \
    input_tokens, output_tokens, cached_tokens, cache_write_tokens";

/// A prompt's fingerprint; `prompt_hash` is null for an event without a prompt.
#[derive(QueryableByName)]
struct FingerprintSql {
    #[diesel(sql_type = Nullable<Text>)]
    prompt_hash: Option<String>,
    #[diesel(sql_type = Nullable<Array<Nullable<Int4>>>)]
    signature: Option<Vec<Option<i32>>>,
    #[diesel(sql_type = Nullable<Array<Nullable<Int8>>>)]
    bands: Option<Vec<Option<i64>>>,
    #[diesel(sql_type = Nullable<Int4>)]
    scheme: Option<i32>,
}

impl FingerprintSql {
    fn stored(self) -> Option<StoredPrompt> {
        Some(StoredPrompt {
            prompt_hash: self.prompt_hash?,
            signature: signature(self.signature),
            bands: bands(self.bands),
            scheme: self.scheme.map(i32::cast_unsigned),
        })
    }
}

#[async_trait]
impl PromptRepository for PgPromptRepository {
    async fn prompt_models(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        limit: usize,
    ) -> Result<Vec<PromptModelRow>, RepoError> {
        // The most expensive prompts are chosen first; only their calls are then aggregated
        // (both through the covering index events_prompt_calls_idx).
        let w = format!(
            "SELECT {W_COLUMNS} FROM events WHERE project_id = $1 AND created_at >= $2 \
             AND created_at <= $3 AND prompt_hash IN (SELECT prompt_hash FROM events \
             WHERE project_id = $1 AND created_at >= $2 AND created_at <= $3 \
             AND prompt_hash IS NOT NULL GROUP BY prompt_hash \
             ORDER BY sum(verified_cost_usd) DESC, prompt_hash LIMIT {limit})"
        );
        let sql = grouped(&w, "sum(verified_cost_usd) DESC", limit);
        let mut conn = self.conn().await?;
        let rows: Vec<GroupSql> = diesel::sql_query(sql)
            .bind::<Text, _>(project.as_str().to_owned())
            .bind::<Timestamptz, _>(window.from)
            .bind::<Timestamptz, _>(window.to)
            .load(&mut conn)
            .await
            .map_err(from_query)?;
        Ok(rows.into_iter().map(PromptModelRow::from).collect())
    }

    async fn candidates<'a>(
        &self,
        project: &ProjectId,
        bands: &[u64],
        exclude: &'a str,
        limit: usize,
    ) -> Result<Vec<StoredPrompt>, RepoError> {
        let mut conn = self.conn().await?;
        let rows: Vec<FingerprintSql> = diesel::sql_query(band_candidates_sql(
            "prompt_fingerprints",
            "signature, scheme",
            "",
            2,
        ))
        .bind::<Text, _>(project.as_str().to_owned())
        .bind::<Array<Int8>, _>(signed(bands))
        .bind::<Text, _>(exclude.to_owned())
        .bind::<Int8, _>(i64::try_from(limit).unwrap_or(i64::MAX))
        .load(&mut conn)
        .await
        .map_err(from_query)?;
        Ok(rows.into_iter().filter_map(FingerprintSql::stored).collect())
    }

    async fn event_prompt(&self, project: &ProjectId, id: Uuid) -> Result<EventPrompt, RepoError> {
        let mut conn = self.conn().await?;
        let row: Option<FingerprintSql> = diesel::sql_query(
            "SELECT e.prompt_hash, pf.signature, pf.bands, pf.scheme FROM events e \
             LEFT JOIN prompt_fingerprints pf \
             ON pf.project_id = e.project_id AND pf.prompt_hash = e.prompt_hash \
             WHERE e.project_id = $1 AND e.id = $2",
        )
        .bind::<Text, _>(project.as_str().to_owned())
        .bind::<diesel::sql_types::Uuid, _>(id)
        .get_result(&mut conn)
        .await
        .optional()
        .map_err(from_query)?;
        Ok(match row {
            None => EventPrompt::NoSuchEvent,
            Some(r) => r.stored().map_or(EventPrompt::NoPrompt, EventPrompt::Prompt),
        })
    }

    async fn feature_medians(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        features: &[String],
    ) -> Result<Vec<FeatureMedian>, RepoError> {
        #[derive(QueryableByName)]
        struct MedianSql {
            #[diesel(sql_type = Text)]
            feature: String,
            #[diesel(sql_type = Double)]
            median: f64,
        }
        let mut conn = self.conn().await?;
        let rows: Vec<MedianSql> = diesel::sql_query(
            "SELECT feature, percentile_cont(0.5) WITHIN GROUP (ORDER BY input_tokens) AS median \
             FROM events WHERE project_id = $1 AND created_at >= $2 AND created_at <= $3 \
             AND feature = ANY($4::text[]) AND NOT is_error GROUP BY feature",
        )
        .bind::<Text, _>(project.as_str().to_owned())
        .bind::<Timestamptz, _>(window.from)
        .bind::<Timestamptz, _>(window.to)
        .bind::<Array<Text>, _>(features.to_vec())
        .load(&mut conn)
        .await
        .map_err(from_query)?;
        Ok(rows
            .into_iter()
            .map(|r| FeatureMedian { feature: r.feature, input_tokens: r.median })
            .collect())
    }

    async fn prompts_by_hash(
        &self,
        project: &ProjectId,
        hashes: &[String],
        window: Option<TimeWindow>,
    ) -> Result<Vec<PromptModelRow>, RepoError> {
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        let window = window.unwrap_or_else(TimeWindow::everything);
        let w = format!(
            "SELECT {W_COLUMNS} FROM events WHERE project_id = $1 AND prompt_hash = ANY($2::text[]) \
             AND created_at >= $3 AND created_at <= $4"
        );
        let sql = grouped(&w, "count(*) DESC", hashes.len());
        let mut conn = self.conn().await?;
        let rows: Vec<GroupSql> = diesel::sql_query(sql)
            .bind::<Text, _>(project.as_str().to_owned())
            .bind::<Array<Text>, _>(hashes.to_vec())
            .bind::<Timestamptz, _>(window.from)
            .bind::<Timestamptz, _>(window.to)
            .load(&mut conn)
            .await
            .map_err(from_query)?;
        Ok(rows.into_iter().map(PromptModelRow::from).collect())
    }
}

#[derive(QueryableByName)]
struct EmbeddingSql {
    #[diesel(sql_type = Text)]
    prompt_hash: String,
    #[diesel(sql_type = Array<Nullable<Float4>>)]
    embedding: Vec<Option<f32>>,
    #[diesel(sql_type = Array<Nullable<Int8>>)]
    bands: Vec<Option<i64>>,
}

impl From<EmbeddingSql> for PromptEmbedding {
    fn from(r: EmbeddingSql) -> Self {
        PromptEmbedding {
            prompt_hash: r.prompt_hash,
            vector: r.embedding.into_iter().flatten().collect(),
            bands: bands(Some(r.bands)),
        }
    }
}

#[async_trait]
impl EmbeddingRepository for PgPromptRepository {
    async fn missing(
        &self,
        project: &ProjectId,
        model: &str,
        hashes: &[String],
    ) -> Result<Vec<String>, RepoError> {
        #[derive(QueryableByName)]
        struct HashSql {
            #[diesel(sql_type = Text)]
            h: String,
        }
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn().await?;
        let rows: Vec<HashSql> = diesel::sql_query(
            "SELECT h FROM unnest($3::text[]) AS h WHERE NOT EXISTS (SELECT 1 FROM prompt_embeddings e \
             WHERE e.project_id = $1 AND e.model = $2 AND e.prompt_hash = h)",
        )
        .bind::<Text, _>(project.as_str().to_owned())
        .bind::<Text, _>(model.to_owned())
        .bind::<Array<Text>, _>(hashes.to_vec())
        .load(&mut conn)
        .await
        .map_err(from_query)?;
        Ok(rows.into_iter().map(|r| r.h).collect())
    }

    async fn store(
        &self,
        project: &ProjectId,
        model: &str,
        rows: &[PromptEmbedding],
    ) -> Result<(), RepoError> {
        if rows.is_empty() {
            return Ok(());
        }
        // Each vector travels as its text form ('{0.1,...}'): one unnest of text[] keeps the
        // whole batch a single statement, which an array of arrays of uneven length could not.
        let hashes: Vec<String> = rows.iter().map(|r| r.prompt_hash.clone()).collect();
        let vectors: Vec<String> =
            rows.iter().map(|r| crate::events::array_text(&r.vector)).collect();
        let keys: Vec<String> =
            rows.iter().map(|r| crate::events::array_text(signed(&r.bands))).collect();
        let mut conn = self.conn().await?;
        diesel::sql_query(
            "INSERT INTO prompt_embeddings (project_id, model, prompt_hash, embedding, bands) \
             SELECT $1, $2, h, v::real[], b::bigint[] FROM unnest($3::text[], $4::text[], $5::text[]) \
             AS x(h, v, b) ON CONFLICT (project_id, model, prompt_hash) DO NOTHING",
        )
        .bind::<Text, _>(project.as_str().to_owned())
        .bind::<Text, _>(model.to_owned())
        .bind::<Array<Text>, _>(hashes)
        .bind::<Array<Text>, _>(vectors)
        .bind::<Array<Text>, _>(keys)
        .execute(&mut conn)
        .await
        .map_err(from_query)?;
        Ok(())
    }

    async fn get(
        &self,
        project: &ProjectId,
        model: &str,
        hash: &str,
    ) -> Result<Option<PromptEmbedding>, RepoError> {
        let mut conn = self.conn().await?;
        let row: Option<EmbeddingSql> = diesel::sql_query(
            "SELECT prompt_hash, embedding, bands FROM prompt_embeddings \
             WHERE project_id = $1 AND model = $2 AND prompt_hash = $3",
        )
        .bind::<Text, _>(project.as_str().to_owned())
        .bind::<Text, _>(model.to_owned())
        .bind::<Text, _>(hash.to_owned())
        .get_result(&mut conn)
        .await
        .optional()
        .map_err(from_query)?;
        Ok(row.map(PromptEmbedding::from))
    }

    async fn candidates<'a>(
        &self,
        project: &ProjectId,
        model: &str,
        bands: &[u64],
        exclude: &'a str,
        limit: usize,
    ) -> Result<Vec<PromptEmbedding>, RepoError> {
        let mut conn = self.conn().await?;
        let rows: Vec<EmbeddingSql> = diesel::sql_query(band_candidates_sql(
            "prompt_embeddings",
            "embedding",
            "AND model = $2",
            3,
        ))
        .bind::<Text, _>(project.as_str().to_owned())
        .bind::<Text, _>(model.to_owned())
        .bind::<Array<Int8>, _>(signed(bands))
        .bind::<Text, _>(exclude.to_owned())
        .bind::<Int8, _>(i64::try_from(limit).unwrap_or(i64::MAX))
        .load(&mut conn)
        .await
        .map_err(from_query)?;
        Ok(rows.into_iter().map(PromptEmbedding::from).collect())
    }
}

/// Rows `(prompt_hash, value, bands)` of `table` of project `$1` (and `filter`) sharing a band
/// key with `$b`, other than the prompt `$b+1`, those sharing the most keys first, at most `$b+2`.
/// Serves MinHash fingerprints and embeddings alike: both are keyed by LSH bands.
fn band_candidates_sql(table: &str, value: &str, filter: &str, b: usize) -> String {
    format!(
        "SELECT prompt_hash, {value}, bands FROM {table} \
         WHERE project_id = $1 {filter} AND bands && ${b}::bigint[] AND prompt_hash <> ${e} \
         ORDER BY (SELECT count(*) FROM unnest(bands) k WHERE k = ANY(${b}::bigint[])) DESC, \
         prompt_hash LIMIT ${l}",
        e = b + 1,
        l = b + 2,
    )
}

fn signed(keys: &[u64]) -> Vec<i64> {
    keys.iter().map(|k| k.cast_signed()).collect()
}
