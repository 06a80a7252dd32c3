//! The `deps` step: the dependency directions of the hexagonal architecture, read from
//! `cargo metadata` (see [`check_dependency_rules`]).

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::cargo;

/// Crates the domain must never reach: I/O, web and database frameworks.
const FORBIDDEN_IN_DOMAIN: [&str; 9] = [
    // Numeric forecasting lives behind the domain's SeriesForecaster port (aicp-forecast).
    "augurs",
    "diesel",
    "diesel-async",
    "actix-web",
    "tokio",
    "deadpool-redis",
    "redis",
    "csv-async",
    "tokio-postgres",
];
/// The driven adapters: independent of each other and of the HTTP layer.
const ADAPTERS: [&str; 5] =
    ["aicp-storage", "aicp-cache", "aicp-similarity", "aicp-export", "aicp-forecast"];
const API: &str = "aicp-api";
const MAY_USE_ACTIX: [&str; 3] = ["aicp-api", "xtask", "aicp-test-support"];
const MAY_USE_DIESEL: [&str; 3] = ["aicp-storage", "xtask", "aicp-test-support"];
/// Libraries other programs embed (the Rust SDK): they reach no other workspace crate, so using
/// one never drags the server in.
const STANDALONE: [&str; 1] = ["aicp-client"];

pub(super) fn dependency_directions(root: &Path) -> anyhow::Result<()> {
    println!("$ cargo metadata --format-version 1");
    let output = Command::new(cargo())
        .args(["metadata", "--format-version", "1"])
        .current_dir(root)
        .output()
        .context("cannot run cargo metadata")?;
    if !output.status.success() {
        bail!("cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let metadata: Value =
        serde_json::from_slice(&output.stdout).context("cargo metadata printed invalid JSON")?;
    let violations = check_dependency_rules(&metadata)?;
    if !violations.is_empty() {
        bail!("{} dependency rule(s) broken:\n  {}", violations.len(), violations.join("\n  "));
    }
    Ok(())
}

/// Checks the dependency rules on `cargo metadata --format-version 1` output; returns one
/// message per broken rule (empty: all good).
///
/// The closure of a crate is computed **with feature resolution**, as `cargo build -p <crate>`
/// would: the `resolve` graph of `cargo metadata` is unified over the whole workspace, so it
/// holds edges that only another member's features switch on (the workspace enables
/// `rust_decimal/db-diesel2-postgres` for aicp-storage, which puts `rust_decimal -> diesel` in
/// the graph although aicp-domain's own `rust_decimal` has no diesel). Following only the
/// non-optional dependencies of each package's manifest, plus the optional ones its activated
/// features turn on, gives the crate's real closure; the resolve graph tells which package each
/// declared dependency resolved to.
pub(crate) fn check_dependency_rules(metadata: &Value) -> anyhow::Result<Vec<String>> {
    let graph = Graph::parse(metadata)?;
    let mut violations = Vec::new();

    // (i) the domain is pure.
    let domain = graph.member("aicp-domain").context("aicp-domain is not a workspace member")?;
    let closure = graph.normal_closure(domain);
    for id in closure.keys() {
        let name = graph.name(id);
        if FORBIDDEN_IN_DOMAIN.contains(&name) {
            violations.push(format!(
                "aicp-domain must not depend on {name}: {}",
                graph.path(&closure, id)
            ));
        }
    }

    // (ii) adapters are independent of each other and of the API.
    let adapters: Vec<&str> = ADAPTERS.iter().filter_map(|a| graph.member(a)).collect();
    let api = graph.member(API);
    for &adapter in &adapters {
        let closure = graph.normal_closure(adapter);
        for &other in adapters.iter().chain(api.iter()) {
            if other != adapter && closure.contains_key(other) {
                violations.push(format!(
                    "{} must not depend on {}: {}",
                    graph.name(adapter),
                    graph.name(other),
                    graph.path(&closure, other)
                ));
            }
        }
    }

    // (iv) standalone libraries reach no other workspace member.
    for name in STANDALONE {
        let Some(lib) = graph.member(name) else { continue };
        let closure = graph.normal_closure(lib);
        for &other in &graph.members {
            if other != lib && closure.contains_key(other) {
                violations.push(format!(
                    "{name} must not depend on {}: {}",
                    graph.name(other),
                    graph.path(&closure, other)
                ));
            }
        }
    }

    // (iii) frameworks stay in their layer (direct dependencies of any kind).
    for &member in &graph.members {
        let name = graph.name(member);
        for dep in graph.direct_dependencies(member) {
            let dep_name = graph.name(dep);
            if dep_name == "actix-web" && !MAY_USE_ACTIX.contains(&name) {
                violations.push(format!(
                    "{name} must not depend on actix-web (only {})",
                    MAY_USE_ACTIX.join(", ")
                ));
            }
            if (dep_name == "diesel" || dep_name == "diesel-async")
                && !MAY_USE_DIESEL.contains(&name)
            {
                violations.push(format!(
                    "{name} must not depend on {dep_name} (only {})",
                    MAY_USE_DIESEL.join(", ")
                ));
            }
        }
    }
    violations.sort();
    violations.dedup();
    Ok(violations)
}

/// A dependency as written in a manifest.
struct Declared<'a> {
    /// Package name.
    package: &'a str,
    /// The name features refer to it by (`rename`, else the package name).
    key: &'a str,
    normal: bool,
    optional: bool,
    default_features: bool,
    features: Vec<&'a str>,
}

/// An edge of the resolve graph.
struct Resolved<'a> {
    id: &'a str,
    /// Crate name in `extern crate` form (renamed, `-` as `_`).
    name: &'a str,
    normal: bool,
}

struct Package<'a> {
    name: &'a str,
    declared: Vec<Declared<'a>>,
    features: HashMap<&'a str, Vec<&'a str>>,
    resolved: Vec<Resolved<'a>>,
}

struct Graph<'a> {
    packages: HashMap<&'a str, Package<'a>>,
    members: Vec<&'a str>,
}

enum Work<'a> {
    Activate { id: &'a str, parent: Option<&'a str> },
    Feature { id: &'a str, feature: &'a str },
    OptionalDep { id: &'a str, key: &'a str },
    DepFeature { id: &'a str, key: &'a str, feature: &'a str, weak: bool },
}

fn str_field<'a>(v: &'a Value, key: &str) -> anyhow::Result<&'a str> {
    v.get(key).and_then(Value::as_str).with_context(|| format!("cargo metadata: missing {key:?}"))
}

fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

impl<'a> Graph<'a> {
    fn parse(metadata: &'a Value) -> anyhow::Result<Self> {
        let mut packages = HashMap::new();
        for p in array(metadata, "packages") {
            let mut declared = Vec::new();
            for d in array(p, "dependencies") {
                let package = str_field(d, "name")?;
                declared.push(Declared {
                    package,
                    key: d.get("rename").and_then(Value::as_str).unwrap_or(package),
                    normal: d.get("kind").is_none_or(Value::is_null),
                    optional: d.get("optional").and_then(Value::as_bool).unwrap_or(false),
                    default_features: d
                        .get("uses_default_features")
                        .and_then(Value::as_bool)
                        .unwrap_or(true),
                    features: array(d, "features").iter().filter_map(Value::as_str).collect(),
                });
            }
            let features = p
                .get("features")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            (
                                k.as_str(),
                                v.as_array().map_or(Vec::new(), |l| {
                                    l.iter().filter_map(Value::as_str).collect()
                                }),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let id = str_field(p, "id")?;
            packages.insert(
                id,
                Package { name: str_field(p, "name")?, declared, features, resolved: Vec::new() },
            );
        }
        let resolve = metadata.get("resolve").context("cargo metadata: no resolve graph")?;
        for node in array(resolve, "nodes") {
            let id = str_field(node, "id")?;
            let mut resolved = Vec::new();
            for d in array(node, "deps") {
                resolved.push(Resolved {
                    id: str_field(d, "pkg")?,
                    name: str_field(d, "name")?,
                    normal: array(d, "dep_kinds")
                        .iter()
                        .any(|k| k.get("kind").is_none_or(Value::is_null)),
                });
            }
            if let Some(p) = packages.get_mut(id) {
                p.resolved = resolved;
            }
        }
        let members =
            array(metadata, "workspace_members").iter().filter_map(Value::as_str).collect();
        Ok(Self { packages, members })
    }

    fn name(&self, id: &str) -> &'a str {
        self.packages.get(id).map_or("?", |p| p.name)
    }

    fn member(&self, name: &str) -> Option<&'a str> {
        self.members.iter().copied().find(|id| self.name(id) == name)
    }

    /// Every package a member's resolve node points to (normal, dev and build).
    fn direct_dependencies(&self, id: &str) -> Vec<&'a str> {
        self.packages.get(id).map_or(Vec::new(), |p| p.resolved.iter().map(|r| r.id).collect())
    }

    /// The package a normal declared dependency of `package` resolved to.
    fn resolve_declared(&self, package: &Package<'a>, d: &Declared<'a>) -> Option<&'a str> {
        let mut candidates =
            package.resolved.iter().filter(|r| r.normal && self.name(r.id) == d.package);
        let first = candidates.next()?;
        let wanted = d.key.replace('-', "_");
        Some(
            candidates.chain(std::iter::once(first)).find(|r| r.name == wanted).unwrap_or(first).id,
        )
    }

    /// Every package `root` links (normal dependencies, transitively, with the features the
    /// closure itself enables), each with the package that pulled it in.
    fn normal_closure(&self, root: &'a str) -> HashMap<&'a str, Option<&'a str>> {
        let mut closure: HashMap<&'a str, Option<&'a str>> = HashMap::new();
        let mut enabled: HashSet<(&'a str, &'a str)> = HashSet::new();
        let mut optional_on: HashSet<(&'a str, &'a str)> = HashSet::new();
        let mut weak_pending: HashMap<(&'a str, &'a str), Vec<&'a str>> = HashMap::new();
        let mut queue = VecDeque::from([
            Work::Activate { id: root, parent: None },
            Work::Feature { id: root, feature: "default" },
        ]);

        let activate = |queue: &mut VecDeque<Work<'a>>,
                        id: &'a str,
                        package: &Package<'a>,
                        d: &Declared<'a>| {
            if let Some(dep) = self.resolve_declared(package, d) {
                queue.push_back(Work::Activate { id: dep, parent: Some(id) });
                if d.default_features {
                    queue.push_back(Work::Feature { id: dep, feature: "default" });
                }
                for &feature in &d.features {
                    queue.push_back(Work::Feature { id: dep, feature });
                }
            }
        };

        while let Some(work) = queue.pop_front() {
            match work {
                Work::Activate { id, parent } => {
                    if closure.contains_key(id) {
                        continue;
                    }
                    closure.insert(id, parent);
                    let Some(package) = self.packages.get(id) else { continue };
                    for d in package.declared.iter().filter(|d| d.normal && !d.optional) {
                        activate(&mut queue, id, package, d);
                    }
                }
                Work::Feature { id, feature } => {
                    let Some(package) = self.packages.get(id) else { continue };
                    if !enabled.insert((id, feature)) {
                        continue;
                    }
                    let Some(items) = package.features.get(feature) else {
                        // An optional dependency's implicit feature.
                        queue.push_back(Work::OptionalDep { id, key: feature });
                        continue;
                    };
                    for &item in items {
                        if let Some(key) = item.strip_prefix("dep:") {
                            queue.push_back(Work::OptionalDep { id, key });
                        } else if let Some((key, feature)) = item.split_once('/') {
                            let (key, weak) = match key.strip_suffix('?') {
                                Some(k) => (k, true),
                                None => (key, false),
                            };
                            if !weak {
                                queue.push_back(Work::OptionalDep { id, key });
                            }
                            queue.push_back(Work::DepFeature { id, key, feature, weak });
                        } else {
                            queue.push_back(Work::Feature { id, feature: item });
                        }
                    }
                }
                Work::OptionalDep { id, key } => {
                    let Some(package) = self.packages.get(id) else { continue };
                    if !optional_on.insert((id, key)) {
                        continue;
                    }
                    for d in
                        package.declared.iter().filter(|d| d.normal && d.optional && d.key == key)
                    {
                        activate(&mut queue, id, package, d);
                        for feature in weak_pending.remove(&(id, key)).unwrap_or_default() {
                            if let Some(dep) = self.resolve_declared(package, d) {
                                queue.push_back(Work::Feature { id: dep, feature });
                            }
                        }
                    }
                }
                Work::DepFeature { id, key, feature, weak } => {
                    let Some(package) = self.packages.get(id) else { continue };
                    for d in package.declared.iter().filter(|d| d.normal && d.key == key) {
                        if !d.optional || optional_on.contains(&(id, key)) {
                            if let Some(dep) = self.resolve_declared(package, d) {
                                queue.push_back(Work::Feature { id: dep, feature });
                            }
                        } else if weak {
                            weak_pending.entry((id, key)).or_default().push(feature);
                        }
                    }
                }
            }
        }
        closure
    }

    /// `root -> … -> id` through the closure's parents.
    fn path(&self, closure: &HashMap<&'a str, Option<&'a str>>, id: &'a str) -> String {
        let mut chain = vec![self.name(id)];
        let mut at = id;
        while let Some(Some(parent)) = closure.get(at) {
            chain.push(self.name(parent));
            at = parent;
            if chain.len() > closure.len() {
                break;
            }
        }
        chain.reverse();
        chain.join(" -> ")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    /// A package: (name, [(dependency, kind, optional, default features, features)],
    /// [(feature, [items])]).
    type Dep<'a> = (&'a str, Option<&'a str>, bool, bool, &'a [&'a str]);

    fn package(name: &str, deps: &[Dep<'_>], features: &[(&str, &[&str])]) -> Value {
        let deps: Vec<Value> = deps
            .iter()
            .map(|(n, kind, optional, default, features)| {
                json!({"name": n, "kind": kind, "optional": optional, "uses_default_features": default,
                       "features": features, "rename": null, "target": null})
            })
            .collect();
        let features: serde_json::Map<String, Value> =
            features.iter().map(|(f, items)| ((*f).to_owned(), json!(items))).collect();
        json!({"id": format!("{name} 0.1.0"), "name": name, "dependencies": deps, "features": features})
    }

    /// A resolve node: (name, [(dependency, kind)]).
    fn node(name: &str, deps: &[(&str, Option<&str>)]) -> Value {
        let deps: Vec<Value> = deps
            .iter()
            .map(|(d, kind)| {
                json!({"name": d.replace('-', "_"), "pkg": format!("{d} 0.1.0"),
                                    "dep_kinds": [{"kind": kind, "target": null}]})
            })
            .collect();
        json!({"id": format!("{name} 0.1.0"), "deps": deps})
    }

    /// A workspace shaped like ours: the storage adapter switches on rust_decimal's diesel
    /// feature, which puts `rust_decimal -> diesel` in the unified resolve graph.
    fn workspace(domain_extra: &[Dep<'static>], cache_extra: &[Dep<'static>]) -> Value {
        let mut domain_deps: Vec<Dep<'static>> = vec![
            ("rust_decimal", None, false, false, &["std"]),
            ("mockall", Some("dev"), false, true, &[]),
        ];
        domain_deps.extend_from_slice(domain_extra);
        let mut cache_deps: Vec<Dep<'static>> = vec![
            ("aicp-domain", None, false, true, &[]),
            ("redis", None, false, true, &[]),
            ("tokio", None, false, true, &[]),
        ];
        cache_deps.extend_from_slice(cache_extra);
        let pairs = |deps: &[Dep<'static>]| -> Vec<(&'static str, Option<&'static str>)> {
            deps.iter().map(|d| (d.0, d.1)).collect()
        };
        json!({
            "packages": [
                package("aicp-domain", &domain_deps, &[("default", &[]), ("mocks", &["dep:mockall"])]),
                package("aicp-storage", &[("aicp-domain", None, false, true, &[]), ("diesel", None, false, true, &[]),
                                          ("rust_decimal", None, false, true, &["db-diesel2-postgres"]), ("tokio", None, false, true, &[])], &[]),
                package("aicp-cache", &cache_deps, &[]),
                package("aicp-api", &[("aicp-domain", None, false, true, &[]), ("aicp-storage", None, false, true, &[]),
                                      ("aicp-cache", None, false, true, &[]), ("actix-web", None, false, true, &[])], &[]),
                package("rust_decimal", &[("diesel", None, true, true, &[]), ("serde", None, true, true, &[])],
                        &[("default", &["serde", "std"]), ("std", &[]), ("serde", &["dep:serde"]),
                          ("db-diesel2-postgres", &["dep:diesel", "std"])]),
                package("diesel", &[], &[]),
                package("serde", &[], &[]),
                package("mockall", &[], &[]),
                package("tokio", &[], &[]),
                package("redis", &[], &[]),
                package("actix-web", &[("tokio", None, false, true, &[])], &[]),
            ],
            "workspace_members": ["aicp-domain 0.1.0", "aicp-storage 0.1.0", "aicp-cache 0.1.0", "aicp-api 0.1.0"],
            "resolve": {"nodes": [
                node("aicp-domain", &pairs(&domain_deps)),
                node("aicp-storage", &[("aicp-domain", None), ("diesel", None), ("rust_decimal", None), ("tokio", None)]),
                node("aicp-cache", &pairs(&cache_deps)),
                node("aicp-api", &[("aicp-domain", None), ("aicp-storage", None), ("aicp-cache", None), ("actix-web", None)]),
                node("rust_decimal", &[("diesel", None), ("serde", None)]),
                node("diesel", &[]), node("serde", &[]), node("mockall", &[]), node("tokio", &[]), node("redis", &[]),
                node("actix-web", &[("tokio", None)]),
            ]}
        })
    }

    #[test]
    fn a_clean_graph_passes_despite_workspace_feature_unification() {
        assert_eq!(check_dependency_rules(&workspace(&[], &[])).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_forbidden_edge_from_the_domain_is_detected_with_its_path() {
        let v = check_dependency_rules(&workspace(&[("actix-web", None, false, true, &[])], &[]))
            .unwrap();
        assert!(
            v.contains(
                &"aicp-domain must not depend on actix-web: aicp-domain -> actix-web".to_owned()
            ),
            "{v:?}"
        );
        assert!(
            v.contains(
                &"aicp-domain must not depend on tokio: aicp-domain -> actix-web -> tokio"
                    .to_owned()
            ),
            "{v:?}"
        );
        assert!(
            v.iter().any(|m| m.starts_with("aicp-domain must not depend on actix-web (only")),
            "{v:?}"
        );
    }

    #[test]
    fn a_feature_that_pulls_a_framework_into_the_domain_is_detected() {
        let v = check_dependency_rules(&workspace(
            &[("rust_decimal", None, false, true, &["db-diesel2-postgres"])],
            &[],
        ))
        .unwrap();
        assert_eq!(
            v,
            vec![
                "aicp-domain must not depend on diesel: aicp-domain -> rust_decimal -> diesel"
                    .to_owned()
            ]
        );
    }

    #[test]
    fn dev_dependencies_are_not_part_of_the_closure() {
        let v =
            check_dependency_rules(&workspace(&[("tokio", Some("dev"), false, true, &[])], &[]))
                .unwrap();
        assert_eq!(v, Vec::<String>::new());
    }

    #[test]
    fn adapters_must_not_depend_on_each_other_or_on_the_api() {
        let v =
            check_dependency_rules(&workspace(&[], &[("aicp-storage", None, false, true, &[])]))
                .unwrap();
        assert_eq!(
            v,
            vec![
                "aicp-cache must not depend on aicp-storage: aicp-cache -> aicp-storage".to_owned()
            ]
        );
        let v = check_dependency_rules(&workspace(&[], &[("aicp-api", None, false, true, &[])]))
            .unwrap();
        assert_eq!(
            v,
            vec![
                "aicp-cache must not depend on aicp-api: aicp-cache -> aicp-api".to_owned(),
                "aicp-cache must not depend on aicp-storage: aicp-cache -> aicp-api -> aicp-storage"
                    .to_owned(),
            ]
        );
    }

    #[test]
    fn the_sdk_must_not_reach_any_other_workspace_crate() {
        let mut w = workspace(&[], &[]);
        let with = |w: &mut Value, key: &str, item: Value| {
            w.pointer_mut(key).and_then(Value::as_array_mut).unwrap().push(item);
        };
        with(
            &mut w,
            "/packages",
            package("aicp-client", &[("aicp-api", None, false, true, &[])], &[]),
        );
        with(&mut w, "/workspace_members", json!("aicp-client 0.1.0"));
        with(&mut w, "/resolve/nodes", node("aicp-client", &[("aicp-api", None)]));
        let v = check_dependency_rules(&w).unwrap();
        assert!(
            v.contains(
                &"aicp-client must not depend on aicp-api: aicp-client -> aicp-api".to_owned()
            ),
            "{v:?}"
        );
        assert!(
            v.contains(&"aicp-client must not depend on aicp-domain: aicp-client -> aicp-api -> aicp-domain".to_owned()),
            "{v:?}"
        );
    }

    #[test]
    fn frameworks_stay_in_their_layer() {
        let v =
            check_dependency_rules(&workspace(&[], &[("diesel", None, false, true, &[])])).unwrap();
        assert_eq!(v, vec!["aicp-cache must not depend on diesel (only aicp-storage, xtask, aicp-test-support)".to_owned()]);
    }
}
