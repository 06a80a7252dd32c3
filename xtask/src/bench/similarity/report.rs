//! The summary table of a run.

use super::*;

pub(super) struct Summary<'a> {
    pub(super) flags: &'a Flags,
    pub(super) label: &'a str,
    pub(super) corpus: &'a Corpus,
    pub(super) stored: usize,
    pub(super) sig_len: usize,
    pub(super) bands: usize,
    pub(super) guaranteed: u16,
    pub(super) quality: &'a Quality,
    pub(super) similar: &'a SimilarReport,
    pub(super) prompts: &'a PromptsReport,
}

impl Summary<'_> {
    pub(super) fn print(&self) {
        let (s, p, q) = (self.similar, self.prompts, self.quality);
        let cores = std::thread::available_parallelism().map_or(0, usize::from);
        println!(
            "\nbench similarity, {} analyzer: {} events of project default over the last {DAYS} days; {} templates x up to {} variants = {} distinct prompts ({} stored); MinHash {} bands x {} rows; client, server and PostgreSQL share {cores} cores",
            self.label,
            thousands(self.flags.events as u64),
            thousands(self.corpus.templates.len() as u64),
            self.flags.variants,
            thousands(self.corpus.variants.len() as u64),
            thousands(self.stored as u64),
            self.bands,
            self.sig_len / self.bands.max(1),
        );
        println!(
            "the schema keeps signatures and band keys once per distinct prompt (prompt_fingerprints)"
        );
        println!(
            "\n{:<44} {:>10} {:>9} {:>5}   {:>12} {:>5}   {:>10}",
            "timings (ms)", "ours p50", "p95", "n", "brute p50", "runs", "brute/ours"
        );
        let row = |name: &str, ours: &[Duration], brute: &[Duration]| {
            let (o, b) = (quantile_ms(ours, 0.5), quantile_ms(brute, 0.5));
            println!(
                "{:<44} {:>10.2} {:>9.2} {:>5}   {:>12.2} {:>5}   {:>9.1}x",
                name,
                o,
                quantile_ms(ours, 0.95),
                ours.len(),
                b,
                brute.len(),
                b / o.max(1e-9)
            );
        };
        let (u, c) = (&s.uniform, &s.by_calls);
        row("/similar, uniform prompts (0.8, limit 100)", &u.times, &s.brute);
        row("  vs brute scan alone (signatures in memory)", &u.times, &u.scan);
        row("/similar, random calls (prompts by calls)", &c.times, &s.brute);
        row("  vs brute scan alone (signatures in memory)", &c.times, &c.scan);
        row("/prompts 7 days (20 groups x 5 similar)", &p.times, &p.brute);
        row("  vs brute scans alone (signatures in memory)", &p.times, &p.scan);
        println!(
            "  /similar brute force = the event's signature (by id) + SELECT of prompt_fingerprints for all {} distinct prompts (p50 {:.1} ms) + scan in Rust (p50 {:.2} ms)",
            thousands(s.distinct as u64),
            quantile_ms(&s.brute_select, 0.5),
            quantile_ms(&u.scan, 0.5)
        );
        let calls = |t: &SimilarTiming| {
            let n = t.candidate_calls.len().max(1) as f64;
            format!(
                "mean {:.0}, max {}",
                t.candidate_calls.iter().sum::<u64>() as f64 / n,
                t.candidate_calls.iter().max().unwrap_or(&0)
            )
        };
        println!(
            "  calls of the candidate prompts per /similar (events rows aggregated for their occurrences and cost): uniform prompts {}; random calls {}",
            calls(u),
            calls(c)
        );
        println!(
            "  /prompts brute force = GROUP BY top 20 over the window's {} events (p50 {:.1} ms) + SELECT of prompt_fingerprints IN (the window's prompt hashes) for its {} distinct prompts (p50 {:.1} ms) + 20 scans in Rust (p50 {:.2} ms)",
            thousands(p.window_events),
            quantile_ms(&p.brute_group_by, 0.5),
            thousands(p.window_distinct as u64),
            quantile_ms(&p.brute_distinct, 0.5),
            quantile_ms(&p.scan, 0.5)
        );
        println!(
            "  brute/ours: brute-force median / server median (above 1: the server is faster); HTTP times are cache misses ({} hit(s))",
            u.cache_hits + c.cache_hits
        );

        println!("\nanswers checked against brute force in the same run:");
        for (name, t) in [("uniform prompts", u), ("random calls", c)] {
            println!(
                "  /similar, {name}: {} prompts, {} near-duplicates returned; {} answer(s) identical to the in-process LSH path; scores, threshold and every prompt agreeing on >= {}/{} components (a shared band) checked: {}",
                t.prompts,
                thousands(t.results as u64),
                t.same_as_mirror,
                self.guaranteed,
                self.sig_len,
                if t.errors.is_empty() {
                    "all correct".to_owned()
                } else {
                    format!("{} WRONG", t.errors.len())
                }
            );
            for d in &t.mirror_differences {
                println!("    differs from the in-process LSH path: {d}");
            }
        }
        println!(
            "  /prompts: {} groups (same top {GROUPS} as the GROUP BY: {}), {} near-duplicates shown (brute force top {GROUP_SIMILAR}s: {}); checked: {}",
            p.groups,
            if p.errors.iter().any(|e| e.contains("top")) { "NO" } else { "yes" },
            p.similar_shown,
            p.brute_similar,
            if p.errors.is_empty() {
                "all correct".to_owned()
            } else {
                format!("{} WRONG", p.errors.len())
            }
        );
        if let Some(note) = &p.order_note {
            println!("    {note}");
        }

        println!(
            "\nnear-duplicate detection: {} query prompts drawn uniformly among the stored distinct prompts; pairs summed over the queries (micro-averaged)",
            thousands(q.queries as u64)
        );
        println!(
            "  LSH path = the server's: candidates sharing a band key (mean {:.1}, max {}; {} quer(ies) above the server's cut at {SERVER_CANDIDATES}), rescored by signature; mean calls behind the candidates {:.0}",
            q.mean_candidates, q.max_candidates, q.capped_queries, q.mean_candidate_calls
        );
        println!(
            "  truth = the query's template (its other stored variants; <= {} per template, under limit {LIMIT}); brute = every stored prompt scored by signature; exact = Jaccard of the shingle sets ({} pairs computed: same template or signature agreement >= {EXACT_PREFILTER})",
            self.flags.variants.saturating_sub(1),
            thousands(q.exact_computed as u64)
        );
        println!(
            "{:>9} {:>9} | {:>9} {:>9} | {:>10} {:>9} | {:>10} {:>9} {:>9} {:>9} {:>9}",
            "threshold",
            "LSH/query",
            "template",
            "template",
            "brute sig",
            "brute sig",
            "LSH recall",
            "LSH prec",
            "exact",
            "exact",
            "S-curve"
        );
        println!(
            "{:>9} {:>9} | {:>9} {:>9} | {:>10} {:>9} | {:>10} {:>9} {:>9} {:>9} {:>9}",
            "",
            "results",
            "precision",
            "recall",
            "LSH recall",
            "tmpl rec",
            "vs exact",
            "vs exact",
            "pairs",
            "cand rate",
            "predicts"
        );
        for (t, tally) in THRESHOLDS.iter().zip(&q.tallies) {
            println!(
                "{:>9.1} {:>9.2} | {:>9} {:>9} | {:>10} {:>9} | {:>10} {:>9} {:>9} {:>9} {:>9}",
                t,
                tally.lsh as f64 / q.queries.max(1) as f64,
                ratio(tally.lsh_same, tally.lsh),
                ratio(tally.lsh_same, tally.same),
                ratio(tally.lsh_in_brute, tally.brute),
                ratio(tally.brute_same, tally.same),
                ratio(tally.lsh_exact, tally.exact),
                ratio(tally.lsh_exact, tally.lsh),
                thousands(tally.exact),
                ratio(tally.exact_candidates, tally.exact),
                if tally.exact == 0 {
                    "-".to_owned()
                } else {
                    format!("{:.4}", tally.exact_expected / tally.exact as f64)
                },
            );
        }
        println!(
            "  template precision/recall: LSH results from the query's template / all LSH results, / the template's other variants; brute sig LSH recall: LSH results / brute-force results (signature >= t); brute sig tmpl rec: what an exhaustive scan would recall of the template"
        );
        println!(
            "  exact: LSH results / pairs at exact Jaccard >= t (recall), LSH results at exact Jaccard >= t / LSH results (precision); cand rate: exact pairs that were LSH candidates, S-curve predicts: mean of 1-(1-J^r)^b over them"
        );
        let recall_by_length: Vec<String> = q
            .by_length
            .iter()
            .map(|(label, got, all)| format!("{label}: {}", ratio(*got, *all)))
            .collect();
        println!(
            "  template recall at {THRESHOLD} by template length: {}",
            recall_by_length.join(", ")
        );
        println!(
            "  template hash (every volatile part masked; names are not): {} of {} same-template pairs share it ({}); {} pairs of different templates do",
            thousands(q.template_pairs_grouped),
            thousands(q.template_pairs),
            ratio(q.template_pairs_grouped, q.template_pairs),
            thousands(q.template_hash_false_pairs)
        );
        println!(
            "  prompts of different templates: the highest signature similarity between a query and one of them is {:.4}",
            q.other_template_best
        );
    }
}

/// Old and new defaults side by side: timings (new / old: below 1 the new defaults are faster)
/// and template recall and precision at the default threshold.
pub(super) fn compare(runs: &[Run]) {
    let [old, new] = runs else { return };
    println!("\nold vs new defaults, same corpus, same events, same run (timings: p50 ms)");
    println!("{:<44} {:>18} {:>18} {:>10}", "", old.label, new.label, "new/old");
    if let (Some((os, op)), Some((ns, np))) = (&old.timed, &new.timed) {
        let time = |name: &str, o: &[Duration], n: &[Duration]| {
            let (o, n) = (quantile_ms(o, 0.5), quantile_ms(n, 0.5));
            println!("{name:<44} {o:>18.2} {n:>18.2} {:>9.2}x", n / o.max(1e-9));
        };
        time("/similar, uniform prompts", &os.uniform.times, &ns.uniform.times);
        time("/similar, random calls", &os.by_calls.times, &ns.by_calls.times);
        time("/prompts 7 days", &op.times, &np.times);
    }
    let at = THRESHOLDS.iter().position(|t| (t - THRESHOLD).abs() < 1e-9).unwrap_or(0);
    let (to, tn) = (&old.quality.tallies[at], &new.quality.tallies[at]);
    println!(
        "{:<44} {:>18} {:>18}",
        format!("template recall at {THRESHOLD}"),
        ratio(to.lsh_same, to.same),
        ratio(tn.lsh_same, tn.same)
    );
    println!(
        "{:<44} {:>18} {:>18}",
        format!("template precision at {THRESHOLD}"),
        ratio(to.lsh_same, to.lsh),
        ratio(tn.lsh_same, tn.lsh)
    );
    for ((label, og, oa), (_, ng, na)) in old.quality.by_length.iter().zip(&new.quality.by_length) {
        println!(
            "{:<44} {:>18} {:>18}",
            format!("  recall, {label}"),
            ratio(*og, *oa),
            ratio(*ng, *na)
        );
    }
    println!(
        "{:<44} {:>18.1} {:>18.1}",
        "candidates per query (mean)", old.quality.mean_candidates, new.quality.mean_candidates
    );
}
