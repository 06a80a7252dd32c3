//! The scratch database: recreated and loaded by COPY with the events and one
//! `prompt_fingerprints` row per distinct prompt.

use super::*;

/// What the scratch database was loaded with (the `events` table's comment), for `--reuse-db`.
pub(super) fn marker(flags: &Flags, analyzer: &MinHashAnalyzer) -> String {
    format!(
        "aicp bench similarity v{DATA_VERSION}: events={} templates={} variants={} seed={SEED:x} scheme={:x}",
        flags.events,
        flags.templates,
        flags.variants,
        analyzer.scheme()
    )
}

pub(super) async fn reusable(db: &str, marker: &str) -> anyhow::Result<bool> {
    let name = migrate::database_name(db)?;
    let admin = migrate::connect(&migrate::with_database(db, "postgres")?).await?;
    let exists: bool = admin
        .query_one("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", &[&name])
        .await?
        .get(0);
    if !exists {
        return Ok(false);
    }
    let client = migrate::connect(db).await?;
    let comment: Option<String> = client
        .query_one(
            "SELECT CASE WHEN to_regclass('events') IS NULL THEN NULL \
             ELSE obj_description(to_regclass('events'), 'pg_class') END",
            &[],
        )
        .await?
        .get(0);
    Ok(comment.as_deref() == Some(marker))
}

/// Everything a row generator needs.
pub(super) struct LoadContext {
    pub(super) book: aicp_domain::pricing::PriceBook,
    pub(super) project: ProjectId,
    pub(super) project_csv: String,
    pub(super) start: DateTime<Utc>,
    pub(super) now: DateTime<Utc>,
    /// Per variant: the prompt columns and the newline ([`suffix`]).
    pub(super) suffixes: Vec<String>,
    /// Per variant: the feature of its template.
    pub(super) features: Vec<&'static Feature>,
    pub(super) schedule: Vec<(i64, u32)>,
    /// The analyzer's scheme, stored with each fingerprint as ingestion stores it.
    pub(super) scheme: u32,
}

/// The prompt columns of an event row, `,hash,template_hash,` (`prompt_text` NULL), and the
/// newline. Signatures and band keys are in `prompt_fingerprints`.
pub(super) fn suffix(print: &Print) -> String {
    format!(",{},{},\n", print.hash, print.template_hash)
}

/// `"{signature}","{bands}"` as signed integers (`u32::cast_signed`, `u64::cast_signed`).
pub(super) fn push_arrays(s: &mut String, print: &Print) {
    s.push_str("\"{");
    for (i, c) in print.signature.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{}", c.cast_signed());
    }
    s.push_str("}\",\"{");
    for (i, b) in print.bands.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{}", b.cast_signed());
    }
    s.push_str("}\"");
}

/// The trace ids of the loaded events start with this (the rollup fold selects them by it).
pub(super) const TRACE_PREFIX: &str = "tr_sim-";

/// CSV rows of the events `range` of the schedule, sent in chunks.
pub(super) fn generate_rows(ctx: &LoadContext, range: Range<usize>, tx: &mpsc::Sender<Bytes>) {
    let catalog = Catalog::new();
    let mut rng = FastRng::new(seed::mix(SEED ^ 0xe7e7, range.start as u64));
    let mut buf = String::with_capacity(FLUSH_BYTES + 8192);
    for n in range {
        let (millis, v) = ctx.schedule[n];
        let created_at = (ctx.start + TimeDelta::milliseconds(millis)).min(ctx.now);
        let feature = ctx.features[v as usize];
        let user = catalog.user(&mut rng);
        let call = Call::sample(&mut rng, feature);
        let priced = ctx.book.price(&ctx.project, call.model, created_at, call.usage());
        let trace_id = format!("{TRACE_PREFIX}{n:x}");
        let row = Row {
            id: seed::uuid_v7_at(&mut rng, created_at),
            project_csv: &ctx.project_csv,
            trace_id: &trace_id,
            span_id: "sp_0",
            parent_span_id: None,
            feature: feature.name,
            user_id: user,
            call: &call,
            priced: &priced,
            created_at,
        };
        seed::write_csv_row(&mut buf, &row);
        buf.pop(); // the newline: the prompt columns follow
        buf.push_str(&ctx.suffixes[v as usize]);
        if buf.len() >= FLUSH_BYTES {
            let chunk = std::mem::replace(&mut buf, String::with_capacity(FLUSH_BYTES + 8192));
            if tx.blocking_send(Bytes::from(chunk)).is_err() {
                return;
            }
        }
    }
    if !buf.is_empty() {
        let _ = tx.blocking_send(Bytes::from(buf));
    }
}

pub(super) async fn copy_rows(
    client: tokio_postgres::Client,
    sql: String,
    mut rx: mpsc::Receiver<Bytes>,
) -> anyhow::Result<u64> {
    let sink = client.copy_in::<_, Bytes>(sql.as_str()).await?;
    let mut sink = Box::pin(sink);
    while let Some(data) = rx.recv().await {
        sink.send(data).await.context("COPY failed")?;
    }
    sink.as_mut().finish().await.context("COPY failed")
}

/// Recreates the scratch database and loads the events and their prompts' fingerprints (see the
/// module docs).
pub(super) async fn load(
    db: &str,
    ctx: LoadContext,
    prints: &[Print],
    stored: &[u32],
    marker: &str,
) -> anyhow::Result<()> {
    println!("bench: recreating scratch database {}", migrate::redact(db));
    migrate::drop_database(db).await?;
    migrate::migrate(db).await?;
    let client = migrate::connect(db).await?;
    client
        .execute("INSERT INTO projects (id) VALUES ('default') ON CONFLICT DO NOTHING", &[])
        .await?;
    // A bulk load builds secondary indexes afterwards (the GIN index on the band keys above all).
    let indexes: Vec<(String, String)> = client
        .query(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() \
             AND tablename IN ('events', 'prompt_fingerprints') \
             AND indexdef NOT LIKE 'CREATE UNIQUE INDEX%' ORDER BY 1",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for (name, _) in &indexes {
        client.batch_execute(&format!("DROP INDEX \"{name}\"")).await?;
    }
    let events = ctx.schedule.len();
    let total_bytes: usize =
        ctx.schedule.iter().map(|&(_, v)| ctx.suffixes[v as usize].len() + 330).sum();
    println!(
        "bench: COPY {} events (~{} MiB of CSV) on {COPY_CONNECTIONS} connections; {} non-unique index(es) dropped until the end",
        thousands(events as u64),
        total_bytes >> 20,
        indexes.len()
    );
    let started = Instant::now();
    let ctx_scheme = ctx.scheme;
    let ctx = Arc::new(ctx);
    let sql = format!(
        "COPY events ({}, prompt_hash, template_hash, prompt_text) FROM STDIN (FORMAT csv)",
        seed::COLUMNS
    );
    let mut copies = Vec::new();
    let mut generators = Vec::new();
    for part in 0..COPY_CONNECTIONS {
        let range = events * part / COPY_CONNECTIONS..events * (part + 1) / COPY_CONNECTIONS;
        let c = migrate::connect(db).await?;
        c.batch_execute("SET synchronous_commit = off").await?;
        let (tx, rx) = mpsc::channel(4);
        let ctx = Arc::clone(&ctx);
        generators.push(tokio::task::spawn_blocking(move || generate_rows(&ctx, range, &tx)));
        copies.push(tokio::spawn(copy_rows(c, sql.clone(), rx)));
    }
    let rows = seed::join_loaders(copies, generators).await.map_err(|(e, _)| e)?;
    if rows != events as u64 {
        bail!("COPY stored {rows} rows, not {events}");
    }
    println!(
        "bench:   {} rows in {:.1} s ({:.0} rows/s)",
        thousands(rows),
        started.elapsed().as_secs_f64(),
        rows as f64 / started.elapsed().as_secs_f64().max(1e-9)
    );
    // One row per stored distinct prompt, as ingestion would have left it.
    let step = Instant::now();
    let mut buf = String::with_capacity(stored.len() * 1900);
    for &v in stored {
        let p = &prints[v as usize];
        let _ = write!(buf, "default,{},{},", p.hash, p.template_hash);
        push_arrays(&mut buf, p);
        let _ = write!(buf, ",{}", ctx_scheme.cast_signed());
        buf.push('\n');
    }
    let sink = client
        .copy_in::<_, Bytes>(
            "COPY prompt_fingerprints (project_id, prompt_hash, template_hash, signature, bands, scheme) \
             FROM STDIN (FORMAT csv)",
        )
        .await?;
    let mut sink = Box::pin(sink);
    sink.send(Bytes::from(buf)).await.context("COPY prompt_fingerprints failed")?;
    let n = sink.as_mut().finish().await.context("COPY prompt_fingerprints failed")?;
    println!(
        "bench:   {} rows of prompt_fingerprints in {:.1} s",
        thousands(n),
        step.elapsed().as_secs_f64()
    );
    let step = Instant::now();
    client.batch_execute("SET maintenance_work_mem = '1GB'").await?;
    for (name, definition) in &indexes {
        let one = Instant::now();
        client.batch_execute(definition).await.with_context(|| format!("cannot rebuild {name}"))?;
        println!("bench:   rebuilt {name} in {:.1} s", one.elapsed().as_secs_f64());
    }
    println!("bench:   indexes rebuilt in {:.1} s", step.elapsed().as_secs_f64());
    let step = Instant::now();
    if seed::fold_into_rollups(&client, "default", TRACE_PREFIX).await? {
        println!("bench:   folded into the rollups in {:.1} s", step.elapsed().as_secs_f64());
    }
    // VACUUM as well: in production autovacuum visits an insert-only table after every ~20 %
    // growth (autovacuum_vacuum_insert_scale_factor), which sets the visibility map that
    // index-only scans rely on; right after a COPY nothing is marked yet.
    let step = Instant::now();
    client.batch_execute("VACUUM (ANALYZE)").await?;
    println!("bench:   VACUUM (ANALYZE) in {:.1} s", step.elapsed().as_secs_f64());
    client
        .batch_execute(&format!("COMMENT ON TABLE events IS '{}'", marker.replace('\'', "''")))
        .await?;
    println!("bench: loaded in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rows_carry_the_prompt_columns_and_fingerprints_csv_arrays() {
        let print = Print {
            hash: "h".into(),
            template_hash: "t".into(),
            signature: vec![1, u32::MAX],
            bands: vec![u64::MAX, 2],
            shingles: vec![],
        };
        // Events: hash, template hash, prompt_text NULL.
        assert_eq!(suffix(&print), ",h,t,\n");
        // prompt_fingerprints: signature and band keys as signed arrays.
        let mut arrays = String::new();
        push_arrays(&mut arrays, &print);
        assert_eq!(arrays, "\"{1,-1}\",\"{-1,2}\"");
    }
}
