//! Quality, in process: the server's LSH path mirrored over the stored prompts and compared with
//! the known templates, a brute-force scan of the signatures and exact Jaccard.

use super::*;

/// The stored prompts, indexed by band key as the server's GIN index does.
pub(super) struct Index<'a> {
    pub(super) prints: &'a [Print],
    pub(super) calls: &'a [u64],
    pub(super) stored: Vec<u32>,
    pub(super) by_band: HashMap<u64, Vec<u32>>,
    pub(super) sig_len: usize,
}

impl<'a> Index<'a> {
    pub(super) fn new(prints: &'a [Print], calls: &'a [u64]) -> Self {
        let stored: Vec<u32> =
            (0..prints.len() as u32).filter(|&v| calls[v as usize] > 0).collect();
        let mut by_band: HashMap<u64, Vec<u32>> = HashMap::with_capacity(stored.len() * 16);
        for &v in &stored {
            for &key in &prints[v as usize].bands {
                by_band.entry(key).or_default().push(v);
            }
        }
        let sig_len = prints.first().map_or(128, |p| p.signature.len());
        Self { prints, calls, stored, by_band, sig_len }
    }

    /// The server's candidates for `q`: stored prompts sharing a band key, the `SERVER_CANDIDATES`
    /// sharing most keys (ties by hash), `q` excluded; and how many there were before that cut.
    pub(super) fn candidates(&self, q: u32) -> (Vec<u32>, usize) {
        let mut all: Vec<u32> = self.prints[q as usize]
            .bands
            .iter()
            .filter_map(|key| self.by_band.get(key))
            .flatten()
            .copied()
            .filter(|&v| v != q)
            .collect();
        all.sort_unstable();
        all.dedup();
        let before = all.len();
        let mine = &self.prints[q as usize].bands;
        let rank =
            |v: u32| self.prints[v as usize].bands.iter().filter(|k| mine.contains(k)).count();
        all.sort_by(|&a, &b| {
            rank(b)
                .cmp(&rank(a))
                .then_with(|| self.prints[a as usize].hash.cmp(&self.prints[b as usize].hash))
        });
        all.truncate(SERVER_CANDIDATES);
        (all, before)
    }
}

/// One query prompt's answers.
pub(super) struct QueryResult {
    pub(super) q: u32,
    /// The LSH path's candidates (after the cut) with their agreement.
    pub(super) lsh: Vec<(u32, u16)>,
    /// Candidates before the cut.
    pub(super) candidates: usize,
    /// Calls behind those candidates (the rows the server's candidate query aggregates).
    pub(super) candidate_calls: u64,
    /// Brute force: every stored prompt with agreement >= 0.5 or exact Jaccard >= 0.5, with both.
    pub(super) brute: Vec<(u32, u16, f64)>,
    /// Pairs whose exact Jaccard was computed.
    pub(super) exact_computed: usize,
    /// The highest agreement with a prompt of another template.
    pub(super) other_template_best: u16,
}

pub(super) fn query(index: &Index<'_>, corpus: &Corpus, q: u32) -> QueryResult {
    let me = &index.prints[q as usize];
    let template = corpus.variants[q as usize].template;
    let (cands, before) = index.candidates(q);
    let lsh: Vec<(u32, u16)> = cands
        .iter()
        .map(|&v| (v, agreement(&me.signature, &index.prints[v as usize].signature)))
        .collect();
    let candidate_calls = cands.iter().map(|&v| index.calls[v as usize]).sum();
    let half = (index.sig_len / 2) as u16;
    let prefilter = (EXACT_PREFILTER * index.sig_len as f64).ceil() as u16;
    let mut brute = Vec::new();
    let mut exact_computed = 0;
    let mut other_template_best = 0;
    for &v in &index.stored {
        if v == q {
            continue;
        }
        let p = &index.prints[v as usize];
        let agree = agreement(&me.signature, &p.signature);
        let same = corpus.variants[v as usize].template == template;
        if !same {
            other_template_best = other_template_best.max(agree);
        }
        if agree >= prefilter || same {
            exact_computed += 1;
            let exact = jaccard(&me.shingles, &p.shingles);
            if agree >= half || exact >= 0.5 {
                brute.push((v, agree, exact));
            }
        }
    }
    QueryResult {
        q,
        lsh,
        candidates: before,
        candidate_calls,
        brute,
        exact_computed,
        other_template_best,
    }
}

/// Sums over the queries at one threshold.
#[derive(Default, Clone, Copy)]
pub(super) struct Tally {
    /// LSH results, and those from the query's template.
    pub(super) lsh: u64,
    pub(super) lsh_same: u64,
    /// The query templates' other stored variants.
    pub(super) same: u64,
    /// Brute-force (signature) results, and those from the query's template.
    pub(super) brute: u64,
    pub(super) brute_same: u64,
    /// LSH results that brute force found (all of them, by construction).
    pub(super) lsh_in_brute: u64,
    /// Pairs at exact Jaccard >= t, those the LSH path returned, and those it had as candidates.
    pub(super) exact: u64,
    pub(super) lsh_exact: u64,
    pub(super) exact_candidates: u64,
    /// Sum of the S-curve's candidate probability over the exact pairs.
    pub(super) exact_expected: f64,
}

pub(super) fn ratio(part: u64, whole: u64) -> String {
    if whole == 0 { "-".to_owned() } else { format!("{:.4}", part as f64 / whole as f64) }
}

pub(super) struct Quality {
    pub(super) queries: usize,
    pub(super) tallies: Vec<Tally>,
    /// Recall vs templates at `THRESHOLD` by template length: (label, returned same, same).
    pub(super) by_length: Vec<(&'static str, u64, u64)>,
    pub(super) mean_candidates: f64,
    pub(super) max_candidates: usize,
    pub(super) capped_queries: usize,
    pub(super) mean_candidate_calls: f64,
    pub(super) exact_computed: usize,
    /// The highest signature similarity between a query and a prompt of another template.
    pub(super) other_template_best: f64,
    /// Template-hash grouping over all stored prompts: same-template pairs, those sharing a
    /// template hash, and pairs sharing a template hash from different templates.
    pub(super) template_pairs: u64,
    pub(super) template_pairs_grouped: u64,
    pub(super) template_hash_false_pairs: u64,
    pub(super) seconds: f64,
}

pub(super) fn measure_quality(
    index: &Index<'_>,
    corpus: &Corpus,
    queries: &[u32],
    analyzer: &MinHashAnalyzer,
) -> anyhow::Result<Quality> {
    let started = Instant::now();
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = queries.len().div_ceil(threads).max(1);
    let results: Vec<QueryResult> = std::thread::scope(|scope| {
        let handles: Vec<_> = queries
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter().map(|&q| query(index, corpus, q)).collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(queries.len());
        for h in handles {
            all.extend(h.join().map_err(|_| anyhow::anyhow!("a quality thread panicked"))?);
        }
        anyhow::Ok(all)
    })?;
    let banding = analyzer.banding();
    let len = index.sig_len;
    let stored_of = |t: usize| {
        corpus.templates[t].variants.clone().filter(|&v| index.calls[v] > 0).count() as u64
    };
    let mut tallies = vec![Tally::default(); THRESHOLDS.len()];
    let buckets: [(&'static str, Range<usize>); 3] =
        [("40-99 words", 40..100), ("100-199 words", 100..200), ("200-300 words", 200..301)];
    let mut by_length: Vec<(&'static str, u64, u64)> =
        buckets.iter().map(|(l, _)| (*l, 0, 0)).collect();
    for r in &results {
        let template = corpus.variants[r.q as usize].template;
        let same_of = |v: u32| corpus.variants[v as usize].template == template;
        let others = stored_of(template).saturating_sub(1);
        let candidate_set: HashSet<u32> = r.lsh.iter().map(|&(v, _)| v).collect();
        for (tally, &t) in tallies.iter_mut().zip(&THRESHOLDS) {
            let lsh: HashSet<u32> =
                r.lsh.iter().filter(|&&(_, a)| score(a, len) >= t).map(|&(v, _)| v).collect();
            tally.lsh += lsh.len() as u64;
            tally.lsh_same += lsh.iter().filter(|&&v| same_of(v)).count() as u64;
            tally.same += others;
            for &(v, agree, exact) in &r.brute {
                if score(agree, len) >= t {
                    tally.brute += 1;
                    tally.brute_same += u64::from(same_of(v));
                    tally.lsh_in_brute += u64::from(lsh.contains(&v));
                }
                if exact >= t {
                    tally.exact += 1;
                    tally.lsh_exact += u64::from(lsh.contains(&v));
                    tally.exact_candidates += u64::from(candidate_set.contains(&v));
                    tally.exact_expected += banding.candidate_probability(exact);
                }
            }
            if (t - THRESHOLD).abs() < 1e-9 {
                let words = corpus.templates[template].words;
                if let Some(i) = buckets.iter().position(|(_, range)| range.contains(&words)) {
                    by_length[i].1 += lsh.iter().filter(|&&v| same_of(v)).count() as u64;
                    by_length[i].2 += others;
                }
            }
        }
    }
    // Template hashes over every stored prompt.
    let mut groups: HashMap<&str, HashMap<usize, u64>> = HashMap::new();
    for &v in &index.stored {
        let t = corpus.variants[v as usize].template;
        *groups
            .entry(index.prints[v as usize].template_hash.as_str())
            .or_default()
            .entry(t)
            .or_default() += 1;
    }
    let pairs = |n: u64| n * n.saturating_sub(1) / 2;
    let template_pairs = (0..corpus.templates.len()).map(|t| pairs(stored_of(t))).sum();
    let mut grouped = 0;
    let mut false_pairs = 0;
    for by_template in groups.values() {
        let total: u64 = by_template.values().sum();
        let same: u64 = by_template.values().map(|&n| pairs(n)).sum();
        grouped += same;
        false_pairs += pairs(total) - same;
    }
    let n = results.len().max(1) as f64;
    let quality = Quality {
        queries: results.len(),
        tallies,
        by_length,
        mean_candidates: results.iter().map(|r| r.candidates).sum::<usize>() as f64 / n,
        max_candidates: results.iter().map(|r| r.candidates).max().unwrap_or(0),
        capped_queries: results.iter().filter(|r| r.candidates > SERVER_CANDIDATES).count(),
        mean_candidate_calls: results.iter().map(|r| r.candidate_calls).sum::<u64>() as f64 / n,
        exact_computed: results.iter().map(|r| r.exact_computed).sum(),
        other_template_best: score(
            results.iter().map(|r| r.other_template_best).max().unwrap_or(0),
            index.sig_len,
        ),
        template_pairs,
        template_pairs_grouped: grouped,
        template_hash_false_pairs: false_pairs,
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok(quality)
}
