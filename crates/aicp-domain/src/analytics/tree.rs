//! Trees: the cost flamegraph (feature → model), the span tree of one trace with subtree costs,
//! and the call-path flamegraph (spans aggregated by their path of (feature, model) from the root
//! span, across every trace of a window).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::analytics::FeatureModelCost;
use crate::event::StoredEvent;
use crate::money::Usd;

/// A node of the dashboard's flamegraph (`{name, value, children}`; leaves have no children).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlameNode {
    /// Label.
    pub name: String,
    /// Cost in USD (a JSON number, as the original and its chart library expect).
    pub value: f64,
    /// Children; absent on leaves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub children: Option<Vec<FlameNode>>,
}

/// `root → feature → model`, children sorted by name. The original put a project level under
/// the root; every query is scoped to one project, so that level only hid the features from the
/// dashboard's treemap (docs/API.md, flamegraph).
pub fn feature_model_tree(rows: &[FeatureModelCost]) -> FlameNode {
    let mut features: BTreeMap<&str, Vec<&FeatureModelCost>> = BTreeMap::new();
    for r in rows {
        features.entry(&r.feature).or_default().push(r);
    }
    let children: Vec<FlameNode> = features
        .into_iter()
        .map(|(feature, models)| {
            let total: Usd = models.iter().map(|m| m.cost).sum();
            let mut leaves: Vec<FlameNode> = models
                .iter()
                .map(|m| FlameNode {
                    name: m.model.clone(),
                    value: Usd::to_f64(m.cost),
                    children: None,
                })
                .collect();
            leaves.sort_by(|a, b| a.name.cmp(&b.name));
            FlameNode {
                name: feature.to_owned(),
                value: Usd::to_f64(total),
                children: Some(leaves),
            }
        })
        .collect();
    let total: Usd = rows.iter().map(|r| r.cost).sum();
    FlameNode { name: "root".to_owned(), value: Usd::to_f64(total), children: Some(children) }
}

/// A span of a trace with its own cost and the cost of its whole subtree.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceNode {
    /// Span id.
    pub span_id: String,
    /// Parent span id.
    pub parent_span_id: Option<String>,
    /// Feature.
    pub feature: String,
    /// Model.
    pub model: String,
    /// Provider.
    pub provider: String,
    /// Prompt tokens.
    pub input_tokens: i32,
    /// Completion tokens.
    pub output_tokens: i32,
    /// Latency (ms).
    pub latency_ms: i32,
    /// Whether the call failed.
    pub is_error: bool,
    /// Call timestamp.
    pub created_at: String,
    /// This span's cost (exact decimal string).
    pub cost_usd: Usd,
    /// This span plus every descendant.
    pub subtree_cost_usd: Usd,
    /// Child spans, oldest first.
    pub children: Vec<TraceNode>,
}

/// The span forest of one trace: spans whose parent is absent from the trace are roots.
/// Cycles (a client bug) are broken: a span is placed once.
pub fn trace_tree(spans: &[StoredEvent]) -> Vec<TraceNode> {
    let by_id: HashMap<&str, &StoredEvent> =
        spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let mut children: HashMap<&str, Vec<&StoredEvent>> = HashMap::new();
    let mut roots = Vec::new();
    for s in spans {
        match s.parent_span_id.as_deref().filter(|p| by_id.contains_key(p) && *p != s.span_id) {
            Some(parent) => children.entry(parent).or_default().push(s),
            None => roots.push(s),
        }
    }
    let mut placed = std::collections::HashSet::new();
    fn build<'a>(
        s: &'a StoredEvent,
        children: &HashMap<&str, Vec<&'a StoredEvent>>,
        placed: &mut std::collections::HashSet<&'a str>,
    ) -> Option<TraceNode> {
        if !placed.insert(s.span_id.as_str()) {
            return None;
        }
        let mut kids: Vec<TraceNode> = children
            .get(s.span_id.as_str())
            .map(|c| c.iter().filter_map(|k| build(k, children, placed)).collect())
            .unwrap_or_default();
        kids.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.span_id.cmp(&b.span_id)));
        let subtree = kids.iter().map(|k| k.subtree_cost_usd).sum::<Usd>() + s.verified_cost;
        Some(TraceNode {
            span_id: s.span_id.clone(),
            parent_span_id: s.parent_span_id.clone(),
            feature: s.feature.clone(),
            model: s.model.clone(),
            provider: s.provider.clone(),
            input_tokens: s.input_tokens,
            output_tokens: s.output_tokens,
            latency_ms: s.latency_ms,
            is_error: s.is_error,
            created_at: s.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            cost_usd: s.verified_cost,
            subtree_cost_usd: subtree,
            children: kids,
        })
    }
    let mut out: Vec<TraceNode> =
        roots.into_iter().filter_map(|r| build(r, &children, &mut placed)).collect();
    // Spans only reachable through a cycle: show them as roots rather than drop them.
    for s in spans {
        if !placed.contains(s.span_id.as_str())
            && let Some(n) = build(s, &children, &mut placed)
        {
            out.push(n);
        }
    }
    out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.span_id.cmp(&b.span_id)));
    out
}

/// What the call-path flamegraph needs of a span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanRow {
    /// Trace id.
    pub trace_id: String,
    /// Span id.
    pub span_id: String,
    /// Parent span id.
    pub parent_span_id: Option<String>,
    /// Feature.
    pub feature: String,
    /// Model.
    pub model: String,
    /// Cost.
    pub cost: Usd,
}

/// A node of the call-path flamegraph: one `feature · model` step of a path from the root span.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallPathNode {
    /// `feature · model` (the root is `root`).
    pub name: String,
    /// Cost of this node and everything below it (a JSON number, for flamegraph libraries).
    pub value: f64,
    /// Exact subtree cost.
    pub cost_usd: Usd,
    /// Exact cost of the spans at exactly this path.
    pub self_cost_usd: Usd,
    /// Spans at exactly this path.
    pub calls: u64,
    /// Next steps.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<CallPathNode>,
}

#[derive(Default)]
struct PathAcc {
    self_cost: Usd,
    calls: u64,
    children: BTreeMap<String, PathAcc>,
}

impl PathAcc {
    fn finish(self, name: String) -> CallPathNode {
        let children: Vec<CallPathNode> =
            self.children.into_iter().map(|(n, c)| c.finish(n)).collect();
        let cost = children.iter().map(|c| c.cost_usd).sum::<Usd>() + self.self_cost;
        CallPathNode {
            name,
            value: Usd::to_f64(cost),
            cost_usd: cost,
            self_cost_usd: self.self_cost,
            calls: self.calls,
            children,
        }
    }
}

/// Aggregates spans by their path of `feature · model` steps from the root span of their trace.
/// A span whose parent is not among `spans` starts a path; cycles are cut.
pub fn call_paths(spans: &[SpanRow]) -> CallPathNode {
    let by_key: HashMap<(&str, &str), &SpanRow> =
        spans.iter().map(|s| ((s.trace_id.as_str(), s.span_id.as_str()), s)).collect();
    let mut root = PathAcc::default();
    for span in spans {
        // Walk up to the root, collecting steps (bounded by the number of spans: cycles end it).
        let mut steps = vec![format!("{} · {}", span.feature, span.model)];
        let mut current = span;
        let mut guard = 0;
        while let Some(parent) =
            current.parent_span_id.as_deref().and_then(|p| by_key.get(&(span.trace_id.as_str(), p)))
        {
            guard += 1;
            if guard > 256 || std::ptr::eq(*parent, span) {
                break;
            }
            steps.push(format!("{} · {}", parent.feature, parent.model));
            current = parent;
        }
        let mut node = &mut root;
        for step in steps.into_iter().rev() {
            node = node.children.entry(step).or_default();
        }
        node.self_cost = node.self_cost + span.cost;
        node.calls += 1;
    }
    root.finish("root".to_owned())
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use rust_decimal::Decimal;

    use super::*;

    fn usd(s: &str) -> Usd {
        Usd::new(Decimal::from_str(s).unwrap_or_default())
    }

    fn span(
        trace: &str,
        id: &str,
        parent: Option<&str>,
        feature: &str,
        model: &str,
        cost: &str,
    ) -> SpanRow {
        SpanRow {
            trace_id: trace.into(),
            span_id: id.into(),
            parent_span_id: parent.map(Into::into),
            feature: feature.into(),
            model: model.into(),
            cost: usd(cost),
        }
    }

    #[test]
    fn the_flamegraph_groups_models_under_features_and_sums_exactly() {
        let rows = vec![
            FeatureModelCost {
                feature: "chat".into(),
                model: "gpt-4o".into(),
                cost: usd("0.0075"),
            },
            FeatureModelCost {
                feature: "chat".into(),
                model: "claude".into(),
                cost: usd("0.00996"),
            },
            FeatureModelCost { feature: "search".into(), model: "x".into(), cost: usd("0.025") },
        ];
        let tree = feature_model_tree(&rows);
        assert_eq!(tree.value, 0.04246);
        let chat = &tree.children.as_ref().unwrap()[0];
        assert_eq!((chat.name.as_str(), chat.value), ("chat", 0.01746));
        assert_eq!(chat.children.as_ref().unwrap()[0].name, "claude");
        assert!(chat.children.as_ref().unwrap()[0].children.is_none());
        let empty = feature_model_tree(&[]);
        assert_eq!(
            serde_json::to_string(&empty).unwrap_or_default(),
            r#"{"name":"root","value":0.0,"children":[]}"#
        );
    }

    #[test]
    fn call_paths_aggregate_across_traces_by_feature_and_model() {
        let spans = vec![
            span("t1", "a", None, "agent", "gpt-4o", "1"),
            span("t1", "b", Some("a"), "search", "mini", "0.5"),
            span("t1", "c", Some("b"), "rerank", "mini", "0.25"),
            span("t2", "a", None, "agent", "gpt-4o", "2"),
            span("t2", "b", Some("a"), "search", "mini", "0.5"),
            // A parent outside the window: the span starts its own path.
            span("t3", "z", Some("missing"), "search", "mini", "0.1"),
        ];
        let root = call_paths(&spans);
        assert_eq!(root.cost_usd, usd("4.35"));
        let agent = root.children.iter().find(|c| c.name == "agent · gpt-4o").unwrap();
        assert_eq!((agent.calls, agent.self_cost_usd, agent.cost_usd), (2, usd("3"), usd("4.25")));
        let search = &agent.children[0];
        assert_eq!((search.calls, search.cost_usd), (2, usd("1.25")));
        assert_eq!(search.children[0].name, "rerank · mini");
        let lone = root.children.iter().find(|c| c.name == "search · mini").unwrap();
        assert_eq!(lone.cost_usd, usd("0.1"));
    }

    #[test]
    fn a_parent_cycle_does_not_hang_or_lose_spans() {
        let spans = vec![
            span("t", "a", Some("b"), "f", "m", "1"),
            span("t", "b", Some("a"), "f", "m", "1"),
        ];
        assert_eq!(call_paths(&spans).cost_usd, usd("2"));
    }
}
