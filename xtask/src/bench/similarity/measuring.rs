//! Measurements against the server: `/similar` and `/prompts` over HTTP, brute force over SQL and
//! in memory, and the checks of every answer.

use super::*;

pub(super) fn http_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

pub(super) fn sql_time(t: DateTime<Utc>) -> String {
    format!("'{}'::timestamptz", t.format("%Y-%m-%dT%H:%M:%S%.6fZ"))
}

/// One GET: its time, its `x-cache` header and its body. Anything but 200 is an error.
pub(super) async fn get(
    client: &reqwest::Client,
    url: &str,
) -> anyhow::Result<(Duration, Option<String>, Bytes)> {
    let start = Instant::now();
    let response = client.get(url).send().await.with_context(|| format!("GET {url}"))?;
    let status = response.status();
    let cache = response.headers().get("x-cache").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = response.bytes().await.with_context(|| format!("reading {url}"))?;
    let elapsed = start.elapsed();
    if status != reqwest::StatusCode::OK {
        bail!(
            "GET {url}: {status}: {}",
            crate::bench::truncate(&String::from_utf8_lossy(&body), 300)
        );
    }
    Ok((elapsed, cache, body))
}

/// Every distinct stored prompt (hash, signature) of the project, or of the calls of `window`, in
/// one SELECT of `prompt_fingerprints`.
pub(super) async fn distinct_prompts(
    pg: &tokio_postgres::Client,
    window: Option<&str>,
) -> anyhow::Result<Vec<(String, Vec<u32>)>> {
    let sql = match window {
        None => {
            "SELECT prompt_hash, signature FROM prompt_fingerprints WHERE project_id = 'default'"
                .to_owned()
        }
        Some(w) => format!(
            "SELECT prompt_hash, signature FROM prompt_fingerprints WHERE project_id = 'default' \
             AND prompt_hash IN (SELECT prompt_hash FROM events WHERE {w} AND prompt_hash IS NOT NULL)"
        ),
    };
    let rows = pg.query(&sql, &[]).await.context("the distinct prompts")?;
    Ok(rows
        .iter()
        .map(|r| {
            let sig: Vec<i32> = r.get(1);
            (r.get::<_, String>(0), sig.into_iter().map(i32::cast_unsigned).collect())
        })
        .collect())
}

/// Brute force: every prompt of `all` at or above `threshold` except `own`, best first (ties by
/// hash), at most `limit`.
pub(super) fn scan<'a>(
    all: &'a [(String, Vec<u32>)],
    own: &str,
    signature: &[u32],
    threshold: f64,
    limit: usize,
) -> Vec<(&'a str, f64)> {
    let len = signature.len();
    let mut out: Vec<(&str, f64)> = all
        .iter()
        .filter(|(hash, _)| hash != own)
        .map(|(hash, sig)| (hash.as_str(), score(agreement(signature, sig), len)))
        .filter(|&(_, s)| s >= threshold)
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    out.truncate(limit);
    out
}

/// Near-duplicates as the server returns them: (prompt hash, similarity).
pub(super) type Answer = Vec<(String, f64)>;

/// The `/similar` requests of one sample of prompts.
#[derive(Default)]
pub(super) struct SimilarTiming {
    pub(super) prompts: usize,
    pub(super) times: Vec<Duration>,
    pub(super) cache_hits: usize,
    /// (prompt, event id, answer without the prompt's own hash).
    pub(super) answers: Vec<(u32, String, Answer)>,
    pub(super) results: usize,
    /// The brute-force scan alone (signatures in memory), per prompt.
    pub(super) scan: Vec<Duration>,
    /// Answers equal to the in-process LSH path's.
    pub(super) same_as_mirror: usize,
    pub(super) mirror_differences: Vec<String>,
    /// Calls of the candidate prompts (the events the server's candidate query reads), per prompt.
    pub(super) candidate_calls: Vec<u64>,
    pub(super) errors: Vec<String>,
}

pub(super) struct SimilarReport {
    /// Brute force per query: own signature + distinct SELECT + scan.
    pub(super) brute: Vec<Duration>,
    /// The SELECT part of `brute`.
    pub(super) brute_select: Vec<Duration>,
    pub(super) distinct: usize,
    /// Prompts drawn uniformly among the distinct ones, and random calls (by popularity).
    pub(super) uniform: SimilarTiming,
    pub(super) by_calls: SimilarTiming,
    /// Every wrong answer (both samples) and database mismatch.
    pub(super) errors: Vec<String>,
}

pub(super) struct PromptsReport {
    pub(super) times: Vec<Duration>,
    pub(super) brute: Vec<Duration>,
    pub(super) brute_group_by: Vec<Duration>,
    pub(super) brute_distinct: Vec<Duration>,
    pub(super) scan: Vec<Duration>,
    pub(super) window_events: u64,
    pub(super) window_distinct: usize,
    pub(super) groups: usize,
    pub(super) similar_shown: usize,
    pub(super) brute_similar: usize,
    pub(super) order_note: Option<String>,
    pub(super) errors: Vec<String>,
}

/// Checks one answer (hash, score) list against brute force: scores at or above the threshold and
/// equal to the signatures' agreement, and nothing missing that shares a whole band.
#[allow(clippy::too_many_arguments)]
pub(super) fn check_answer(
    what: &str,
    answer: &[(String, f64)],
    own: &str,
    signature: &[u32],
    all: &[(String, Vec<u32>)],
    threshold: f64,
    cap: usize,
    guaranteed: u16,
    errors: &mut Vec<String>,
) {
    let by_hash: HashMap<&str, &[u32]> = all.iter().map(|(h, s)| (h.as_str(), &s[..])).collect();
    let len = signature.len();
    for (hash, s) in answer {
        if hash == own {
            errors.push(format!("{what}: the prompt itself is among its near-duplicates"));
            continue;
        }
        let Some(sig) = by_hash.get(hash.as_str()) else {
            errors.push(format!("{what}: {hash} is not a stored prompt"));
            continue;
        };
        let expected = score(agreement(signature, sig), len);
        if *s < threshold {
            errors.push(format!("{what}: {hash} scored {s} < threshold {threshold}"));
        }
        if (s - expected).abs() > 1e-9 {
            errors.push(format!("{what}: {hash} scored {s}, its signature agrees on {expected}"));
        }
    }
    let returned: HashSet<&str> = answer.iter().map(|(h, _)| h.as_str()).collect();
    let lowest = answer.iter().map(|a| a.1).fold(f64::INFINITY, f64::min);
    for (hash, sig) in all {
        let agree = agreement(signature, sig);
        if hash == own || agree < guaranteed || returned.contains(hash.as_str()) {
            continue;
        }
        let s = score(agree, len);
        if answer.len() < cap || s > lowest {
            errors.push(format!(
                "{what}: misses {hash} (agreement {agree}/{len}, sim {s:.4}; shares a whole band)"
            ));
        }
    }
}

/// The prompts the in-process LSH path returns for `q` at `threshold` (the server's answer).
pub(super) fn lsh_answer<'a>(index: &Index<'a>, q: u32, threshold: f64) -> HashSet<&'a str> {
    let me = &index.prints[q as usize].signature;
    let prints = index.prints;
    index
        .candidates(q)
        .0
        .into_iter()
        .filter(|&v| {
            score(agreement(me, &prints[v as usize].signature), index.sig_len) >= threshold
        })
        .map(|v| prints[v as usize].hash.as_str())
        .collect()
}

/// `/similar` of each (prompt, event id), one request each; the answers without the prompt's own
/// hash (its other calls).
pub(super) async fn ask_similar(
    client: &reqwest::Client,
    base_url: &str,
    asks: &[(u32, String)],
    prints: &[Print],
) -> anyhow::Result<SimilarTiming> {
    let mut timing = SimilarTiming { prompts: asks.len(), ..SimilarTiming::default() };
    for (q, id) in asks {
        let url = format!(
            "{base_url}/api/v1/analytics/prompts/{id}/similar?threshold={THRESHOLD}&limit={LIMIT}"
        );
        let (t, cache, body) = get(client, &url).await?;
        let parsed: Value = serde_json::from_slice(&body).context("/similar: not JSON")?;
        let own = &prints[*q as usize].hash;
        let answer: Vec<(String, f64)> = parsed
            .as_array()
            .context("/similar: not an array")?
            .iter()
            .map(|s| Some((s["promptHash"].as_str()?.to_owned(), s["similarity"].as_f64()?)))
            .collect::<Option<Vec<_>>>()
            .context("/similar: an item without promptHash or similarity")?
            .into_iter()
            .filter(|(h, _)| h != own)
            .collect();
        if cache.as_deref() == Some("miss") {
            timing.times.push(t);
        } else {
            timing.cache_hits += 1;
        }
        timing.results += answer.len();
        timing.answers.push((*q, id.clone(), answer));
    }
    Ok(timing)
}

/// Checks every answer of `timing` against brute force over `all` and against the in-process LSH
/// path, and times the brute-force scan of each prompt with the signatures in memory.
pub(super) fn check_similar(
    timing: &mut SimilarTiming,
    all: &[(String, Vec<u32>)],
    index: &Index<'_>,
    guaranteed: u16,
) {
    for (q, id, answer) in &timing.answers {
        let me = &index.prints[*q as usize];
        let t = Instant::now();
        let found = scan(all, &me.hash, &me.signature, THRESHOLD, LIMIT);
        timing.scan.push(t.elapsed());
        std::hint::black_box(&found);
        check_answer(
            &format!("/similar of event {id}"),
            answer,
            &me.hash,
            &me.signature,
            all,
            THRESHOLD,
            LIMIT,
            guaranteed,
            &mut timing.errors,
        );
        let (candidates, _) = index.candidates(*q);
        timing.candidate_calls.push(candidates.iter().map(|&v| index.calls[v as usize]).sum());
        let expected = lsh_answer(index, *q, THRESHOLD);
        let got: HashSet<&str> = answer.iter().map(|(h, _)| h.as_str()).collect();
        if expected == got {
            timing.same_as_mirror += 1;
        } else if timing.mirror_differences.len() < 5 {
            timing.mirror_differences.push(format!(
                "event {id}: server {} results, in-process LSH {} ({} only on the server, {} only in process)",
                got.len(),
                expected.len(),
                got.difference(&expected).count(),
                expected.difference(&got).count()
            ));
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn measure_similar(
    client: &reqwest::Client,
    pg: &tokio_postgres::Client,
    base_url: &str,
    flags: &Flags,
    sample: &[u32],
    warmup: &[u32],
    index: &Index<'_>,
    hash_index: &HashMap<&str, u32>,
    guaranteed: u16,
) -> anyhow::Result<SimilarReport> {
    let prints = index.prints;
    // One random event per prompt (a fresh salt per run: never one a previous run cached).
    let salt = format!("{:x}", Utc::now().timestamp_nanos_opt().unwrap_or(0));
    let hashes: Vec<&str> =
        sample.iter().chain(warmup).map(|&v| prints[v as usize].hash.as_str()).collect();
    let rows = pg
        .query(
            "SELECT DISTINCT ON (prompt_hash) prompt_hash, id::text FROM events \
             WHERE project_id = 'default' AND prompt_hash = ANY($1) \
             ORDER BY prompt_hash, md5(id::text || $2)",
            &[&hashes, &salt],
        )
        .await?;
    let event_of: HashMap<String, String> =
        rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, String>(1))).collect();
    let event = |v: u32| {
        let hash = &prints[v as usize].hash;
        event_of.get(hash).cloned().with_context(|| format!("no stored event has prompt {hash}"))
    };
    let uniform: Vec<(u32, String)> =
        sample.iter().map(|&v| Ok((v, event(v)?))).collect::<anyhow::Result<_>>()?;
    // Random calls: their prompts are drawn by popularity. Never an event asked about already
    // (the same event id would be the same cache key).
    let asked: Vec<&str> = event_of.values().map(String::as_str).collect();
    let rows = pg
        .query(
            "SELECT prompt_hash, id::text FROM events \
             WHERE project_id = 'default' AND prompt_hash IS NOT NULL AND id::text <> ALL($3) \
             ORDER BY md5(id::text || $1 || 'calls') LIMIT $2",
            &[&salt, &i64::try_from(sample.len())?, &asked],
        )
        .await?;
    let by_calls: Vec<(u32, String)> = rows
        .iter()
        .map(|r| {
            let hash: &str = r.get(0);
            let v = hash_index.get(hash).with_context(|| format!("unknown prompt {hash}"))?;
            Ok((*v, r.get::<_, String>(1)))
        })
        .collect::<anyhow::Result<_>>()?;

    // Warm-ups: other prompts (and another limit, so another cache key), not timed.
    for &v in warmup {
        let url = format!(
            "{base_url}/api/v1/analytics/prompts/{}/similar?threshold={THRESHOLD}&limit={}",
            event(v)?,
            LIMIT - 1
        );
        get(client, &url).await?;
    }
    let mut uniform = ask_similar(client, base_url, &uniform, prints).await?;
    let mut by_calls = ask_similar(client, base_url, &by_calls, prints).await?;

    // Brute force, timed per query while within budget (the prompts of the uniform sample).
    let mut report = SimilarReport {
        brute: Vec::new(),
        brute_select: Vec::new(),
        distinct: 0,
        uniform: SimilarTiming::default(),
        by_calls: SimilarTiming::default(),
        errors: Vec::new(),
    };
    let started = Instant::now();
    let mut all: Vec<(String, Vec<u32>)> = Vec::new();
    for (q, id, _) in &uniform.answers {
        if report.brute.len() >= flags.repeat.max(MIN_RUNS)
            || (report.brute.len() >= MIN_RUNS && started.elapsed() > BRUTE_BUDGET)
        {
            break;
        }
        let t = Instant::now();
        let row = pg
            .query_one(
                "SELECT e.prompt_hash, f.signature FROM events e JOIN prompt_fingerprints f \
                 ON f.project_id = e.project_id AND f.prompt_hash = e.prompt_hash \
                 WHERE e.project_id = 'default' AND e.id = ($1::text)::uuid",
                &[id],
            )
            .await?;
        let own: String = row.get(0);
        let sig: Vec<u32> = row.get::<_, Vec<i32>>(1).into_iter().map(i32::cast_unsigned).collect();
        let select = Instant::now();
        let fetched = distinct_prompts(pg, None).await?;
        report.brute_select.push(select.elapsed());
        let found = scan(&fetched, &own, &sig, THRESHOLD, LIMIT);
        report.brute.push(t.elapsed());
        std::hint::black_box(found);
        if own != prints[*q as usize].hash {
            report.errors.push(format!("event {id} holds prompt {own}, not the sampled one"));
        }
        all = fetched;
    }
    report.distinct = all.len();
    if all.len() != index.stored.len() {
        report.errors.push(format!(
            "the database holds {} distinct prompts, the corpus {}",
            all.len(),
            index.stored.len()
        ));
    }
    check_similar(&mut uniform, &all, index, guaranteed);
    check_similar(&mut by_calls, &all, index, guaranteed);
    report.errors.extend(uniform.errors.iter().chain(&by_calls.errors).cloned());
    report.uniform = uniform;
    report.by_calls = by_calls;
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn measure_prompts(
    client: &reqwest::Client,
    pg: &tokio_postgres::Client,
    base_url: &str,
    flags: &Flags,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    index: &Index<'_>,
    hash_index: &HashMap<&str, u32>,
    guaranteed: u16,
) -> anyhow::Result<PromptsReport> {
    let url = format!(
        "{base_url}/api/v1/analytics/prompts?from={}&to={}",
        http_time(from),
        http_time(to)
    );
    let (_, _, mut body) = get(client, &url).await?;
    let mut times = Vec::new();
    for _ in 0..flags.repeat {
        let (t, _, b) = get(client, &url).await?;
        times.push(t);
        body = b;
    }
    let groups: Vec<(String, Vec<(String, f64)>)> = serde_json::from_slice::<Value>(&body)
        .context("/prompts: not JSON")?
        .as_array()
        .context("/prompts: not an array")?
        .iter()
        .map(|g| {
            let similar = g["similarPrompts"]
                .as_array()?
                .iter()
                .map(|s| Some((s["promptHash"].as_str()?.to_owned(), s["similarity"].as_f64()?)))
                .collect::<Option<Vec<_>>>()?;
            Some((g["promptHash"].as_str()?.to_owned(), similar))
        })
        .collect::<Option<_>>()
        .context("/prompts: a group without promptHash or similarPrompts")?;

    let window = format!(
        "project_id = 'default' AND created_at >= {} AND created_at <= {}",
        sql_time(from),
        sql_time(to)
    );
    let group_by = format!(
        "SELECT prompt_hash, count(*), sum(verified_cost_usd)::text, \
         sum(input_tokens::bigint + output_tokens) FROM events WHERE {window} \
         AND prompt_hash IS NOT NULL GROUP BY prompt_hash \
         ORDER BY sum(verified_cost_usd) DESC, prompt_hash LIMIT {GROUPS}"
    );
    let mut report = PromptsReport {
        times,
        brute: Vec::new(),
        brute_group_by: Vec::new(),
        brute_distinct: Vec::new(),
        scan: Vec::new(),
        window_events: 0,
        window_distinct: 0,
        groups: groups.len(),
        similar_shown: groups.iter().map(|g| g.1.len()).sum(),
        brute_similar: 0,
        order_note: None,
        errors: Vec::new(),
    };
    let started = Instant::now();
    let mut top: Vec<String> = Vec::new();
    let mut all: Vec<(String, Vec<u32>)> = Vec::new();
    let mut brute_answers: Vec<Vec<(String, f64)>> = Vec::new();
    while report.brute.len() < flags.repeat.max(MIN_RUNS)
        && (report.brute.len() < MIN_RUNS || started.elapsed() < BRUTE_BUDGET)
    {
        let t = Instant::now();
        let rows = pg.query(&group_by, &[]).await.context("the top prompts")?;
        report.brute_group_by.push(t.elapsed());
        let d = Instant::now();
        let fetched = distinct_prompts(pg, Some(&window)).await?;
        report.brute_distinct.push(d.elapsed());
        let s = Instant::now();
        let by_hash: HashMap<&str, &[u32]> =
            fetched.iter().map(|(h, sig)| (h.as_str(), &sig[..])).collect();
        let answers: Vec<Vec<(String, f64)>> = rows
            .iter()
            .map(|r| {
                let hash: &str = r.get(0);
                let sig = by_hash.get(hash).copied().unwrap_or_default();
                scan(&fetched, hash, sig, THRESHOLD, GROUP_SIMILAR)
                    .into_iter()
                    .map(|(h, s)| (h.to_owned(), s))
                    .collect()
            })
            .collect();
        report.scan.push(s.elapsed());
        report.brute.push(t.elapsed());
        top = rows.iter().map(|r| r.get::<_, String>(0)).collect();
        brute_answers = answers;
        all = fetched;
    }
    report.window_distinct = all.len();
    report.brute_similar = brute_answers.iter().map(Vec::len).sum();
    report.window_events = u64::try_from(
        pg.query_one(&format!("SELECT count(*) FROM events WHERE {window}"), &[])
            .await?
            .get::<_, i64>(0),
    )?;

    let served: Vec<&str> = groups.iter().map(|g| g.0.as_str()).collect();
    let expected: Vec<&str> = top.iter().map(String::as_str).collect();
    if served.iter().collect::<HashSet<_>>() != expected.iter().collect::<HashSet<_>>() {
        report.errors.push(format!(
            "/prompts: the top {GROUPS} prompts differ from the GROUP BY's ({} in common)",
            served.iter().filter(|h| expected.contains(h)).count()
        ));
    } else if served != expected {
        report.order_note =
            Some("same top-20 prompts as the GROUP BY, in another order (cost ties)".to_owned());
    }
    let by_hash: HashMap<&str, &[u32]> = all.iter().map(|(h, s)| (h.as_str(), &s[..])).collect();
    for (hash, similar) in &groups {
        let Some(sig) = by_hash.get(hash.as_str()) else {
            report.errors.push(format!("/prompts: group {hash} is not a prompt of the window"));
            continue;
        };
        // The server's candidates are cut at 200 prompts: a guarantee holds only below that.
        let capped = hash_index
            .get(hash.as_str())
            .is_some_and(|&v| index.candidates(v).1 > SERVER_CANDIDATES);
        check_answer(
            &format!("/prompts group {hash}"),
            similar,
            hash,
            sig,
            &all,
            THRESHOLD,
            GROUP_SIMILAR,
            if capped { u16::MAX } else { guaranteed },
            &mut report.errors,
        );
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn scans_keep_the_threshold_and_sort_best_first() {
        let all = vec![
            ("a".to_owned(), vec![1, 2, 3, 4]),
            ("b".to_owned(), vec![1, 2, 3, 0]),
            ("c".to_owned(), vec![1, 0, 0, 0]),
            ("d".to_owned(), vec![1, 2, 3, 4]),
        ];
        let found = scan(&all, "a", &[1, 2, 3, 4], 0.75, 10);
        assert_eq!(found, vec![("d", 1.0), ("b", 0.75)]);
        assert_eq!(scan(&all, "a", &[1, 2, 3, 4], 0.5, 1), vec![("d", 1.0)]);
    }

    #[test]
    fn answers_that_miss_a_shared_band_or_misreport_a_score_are_wrong() {
        let all = vec![("q".to_owned(), vec![1, 2, 3, 4]), ("x".to_owned(), vec![1, 2, 3, 4])];
        let mut errors = Vec::new();
        check_answer("t", &[], "q", &[1, 2, 3, 4], &all, 0.8, 10, 3, &mut errors);
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors.clear();
        check_answer("t", &[("x".into(), 0.5)], "q", &[1, 2, 3, 4], &all, 0.8, 10, 3, &mut errors);
        assert_eq!(errors.len(), 2, "{errors:?}");
        errors.clear();
        check_answer("t", &[("x".into(), 1.0)], "q", &[1, 2, 3, 4], &all, 0.8, 10, 3, &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
    }
}
