//! The `cycles` step: no import cycle between the modules of a crate.
//!
//! Why: a cycle between two modules means neither can be understood, moved or tested without the
//! other; they are one module in two files. The compiler accepts them, so this step catches them.
//!
//! What counts as an edge, per crate (each `crates/*/src` and `xtask/src`):
//! - a module is a file (`a.rs` and `a/mod.rs` are module `a`, `a/b.rs` is `a::b`; inline
//!   `mod x { … }` blocks belong to their file), rooted at `lib.rs`, else `main.rs` (a `main.rs`
//!   next to a `lib.rs` is its own tiny crate and is skipped, as is `src/bin/`);
//! - each `use` item of a file that names this crate (`crate::…`, `self::…`, `super::…`, or a child
//!   module by its bare name), and each path written in code that starts with `crate::`, `self::`
//!   or `super::` (a field type `crate::routes::stream::Live`, a call `crate::guard::f()`), is an
//!   edge to the longest module prefix of the path: `crate::routes::stream::Live` is an edge to
//!   `routes::stream`, `crate::state` to `state` (paths inside macro calls are not seen);
//! - when the rest of the path is an item the target only re-exports (`pub use child::Item`), the
//!   edge goes to where that `pub use` points, so `use crate::ports::RepoError` depends on
//!   `ports::error`, not on everything `ports/mod.rs` re-exports;
//! - edges from a module to its own descendants (`mod.rs` or a crate root re-exporting or using
//!   its children) are ignored: a parent naming its children is structure, not a dependency, and
//!   counting it would turn every child that uses its parent's items into a false cycle;
//! - items and modules under `#[cfg(test)]` are ignored (tests may reach anywhere).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// A module path inside one crate: `[]` is the root, `["routes", "stream"]` is `routes::stream`.
type ModPath = Vec<String>;

/// One import of one module: where it leads and the path as written (for the report).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    to: ModPath,
    written: String,
}

/// What one file says about its module.
#[derive(Debug, Default)]
struct ModuleInfo {
    /// Imports, resolved to absolute paths inside the crate (module and item segments).
    uses: Vec<(Vec<String>, String)>,
    /// `pub use` names: name → absolute path it re-exports.
    reexports: BTreeMap<String, Vec<String>>,
    /// Child modules declared under `#[cfg(test)]`.
    test_children: BTreeSet<String>,
}

/// A set of modules that import each other (a strongly connected component of the import graph).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cycle {
    /// One shortest cycle through the set, e.g. `[a, b, a]`.
    pub(crate) modules: Vec<String>,
    /// Every module of the set.
    pub(crate) members: Vec<String>,
    /// Every import between members, as `from -> to (use|path written path)`.
    pub(crate) imports: Vec<String>,
}

/// The step: every crate of the workspace at `root`; fails listing every cycle.
pub(crate) fn check(root: &Path) -> anyhow::Result<()> {
    let mut src_dirs: Vec<(String, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(root.join("crates")).context("cannot list crates/")? {
        let dir = entry?.path();
        if dir.join("src").is_dir() {
            let name =
                dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            src_dirs.push((name, dir.join("src")));
        }
    }
    src_dirs.push(("xtask".to_owned(), root.join("xtask/src")));
    src_dirs.sort();

    let mut report = Vec::new();
    for (name, src) in &src_dirs {
        let files = read_sources(src)?;
        let cycles = find_cycles(&files)?;
        println!("{name}: {} modules, {} cycle(s)", files.len(), cycles.len());
        for cycle in cycles {
            report.push(format!(
                "{name}: {} (modules in the cycle: {})\n{}",
                cycle.modules.join(" -> "),
                cycle.members.join(", "),
                cycle.imports.iter().map(|i| format!("    {i}")).collect::<Vec<_>>().join("\n")
            ));
        }
    }
    if !report.is_empty() {
        bail!("import cycles between modules ({}):\n{}", report.len(), report.join("\n"));
    }
    Ok(())
}

/// Every `.rs` file under `src`, as (path relative to `src`, text).
fn read_sources(src: &Path) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let mut files = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let relative = path.strip_prefix(src).unwrap_or(&path).to_path_buf();
                files.push((relative, text));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The module a file (relative to `src`) defines; `None` for files outside the module tree.
fn module_of(file: &Path, has_lib: bool) -> Option<ModPath> {
    let parts: Vec<String> =
        file.iter().map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned()).collect();
    match parts.as_slice() {
        [root] if root == "lib" => Some(Vec::new()),
        [root] if root == "main" => (!has_lib).then(Vec::new),
        [first, ..] if first == "bin" => None,
        [dirs @ .., last] if last == "mod" => Some(dirs.to_vec()),
        all => Some(all.to_vec()),
    }
}

/// The cycles among the modules of one crate, given its files (relative to `src`) and texts.
pub(crate) fn find_cycles(files: &[(PathBuf, String)]) -> anyhow::Result<Vec<Cycle>> {
    let has_lib = files.iter().any(|(p, _)| p == Path::new("lib.rs"));
    let mut sources: BTreeMap<ModPath, &str> = BTreeMap::new();
    for (path, text) in files {
        if let Some(module) = module_of(path, has_lib) {
            sources.insert(module, text);
        }
    }
    let modules: BTreeSet<ModPath> = sources.keys().cloned().collect();
    let mut infos: BTreeMap<ModPath, ModuleInfo> = BTreeMap::new();
    for (module, text) in &sources {
        let file = syn::parse_file(text)
            .with_context(|| format!("cannot parse module `{}`", display(module)))?;
        infos.insert(module.clone(), module_info(module, &file, &modules));
    }
    // Test-only modules and their descendants are left out.
    let test_only: BTreeSet<ModPath> = modules
        .iter()
        .filter(|m| {
            (1..=m.len()).any(|n| {
                let (parent, child) = (&m[..n - 1], &m[n - 1]);
                infos.get(parent).is_some_and(|i| i.test_children.contains(child))
            })
        })
        .cloned()
        .collect();

    let mut graph: BTreeMap<ModPath, BTreeSet<Edge>> = BTreeMap::new();
    for (module, info) in &infos {
        if test_only.contains(module) {
            continue;
        }
        let edges = graph.entry(module.clone()).or_default();
        for (path, written) in &info.uses {
            let to = resolve(path, &modules, &infos);
            if to.starts_with(module) || test_only.contains(&to) {
                continue;
            }
            edges.insert(Edge { to, written: written.clone() });
        }
    }
    Ok(cycles_of(&graph))
}

/// A module path as written in a report.
fn display(module: &[String]) -> String {
    if module.is_empty() { "crate".to_owned() } else { module.join("::") }
}

/// Whether `attrs` hold `#[cfg(test)]`.
fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg") && a.parse_args::<syn::Ident>().is_ok_and(|ident| ident == "test")
    })
}

fn module_info(module: &ModPath, file: &syn::File, modules: &BTreeSet<ModPath>) -> ModuleInfo {
    let mut visitor = Imports { module, inline: Vec::new(), modules, info: ModuleInfo::default() };
    syn::visit::visit_file(&mut visitor, file);
    visitor.info
}

/// Collects the imports and paths of one file, skipping `#[cfg(test)]` items.
struct Imports<'a> {
    module: &'a ModPath,
    /// Inline modules (`mod x { … }`) the visitor is inside, outermost first.
    inline: Vec<String>,
    modules: &'a BTreeSet<ModPath>,
    info: ModuleInfo,
}

impl Imports<'_> {
    /// The module `self` means here (an inline module is named, though it is not a file module,
    /// so that `super::` inside it leads back to the file).
    fn here(&self) -> ModPath {
        self.module.iter().chain(&self.inline).cloned().collect()
    }
}

impl<'ast> syn::visit::Visit<'ast> for Imports<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Const(i) => &i.attrs,
            syn::Item::Enum(i) => &i.attrs,
            syn::Item::Fn(i) => &i.attrs,
            syn::Item::Impl(i) => &i.attrs,
            syn::Item::Mod(i) => &i.attrs,
            syn::Item::Static(i) => &i.attrs,
            syn::Item::Struct(i) => &i.attrs,
            syn::Item::Trait(i) => &i.attrs,
            syn::Item::Type(i) => &i.attrs,
            syn::Item::Use(i) => &i.attrs,
            _ => return syn::visit::visit_item(self, item),
        };
        if is_test_only(attrs) {
            if let syn::Item::Mod(m) = item
                && self.inline.is_empty()
            {
                self.info.test_children.insert(m.ident.to_string());
            }
            return;
        }
        syn::visit::visit_item(self, item);
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if m.content.is_some() {
            self.inline.push(m.ident.to_string());
            syn::visit::visit_item_mod(self, m);
            self.inline.pop();
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let here = self.here();
        let public = self.inline.is_empty() && !matches!(u.vis, syn::Visibility::Inherited);
        let mut leaves = Vec::new();
        flatten(&u.tree, Vec::new(), &mut leaves);
        for (segments, name) in leaves {
            let Some(absolute) = absolute(&here, &segments, self.modules) else { continue };
            if public && let Some(name) = name {
                self.info.reexports.insert(name, absolute.clone());
            }
            self.info.uses.push((absolute, format!("use {}", segments.join("::"))));
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        // Bare names in code are too often locals, types or other crates: only explicit paths.
        if path.leading_colon.is_none()
            && segments.len() > 1
            && matches!(segments[0].as_str(), "crate" | "self" | "super")
            && let Some(absolute) = absolute(&self.here(), &segments, self.modules)
        {
            self.info.uses.push((absolute, format!("path {}", segments.join("::"))));
        }
        syn::visit::visit_path(self, path);
    }
}

/// The leaves of a use tree: full path segments and the name it binds (`None` for a glob or
/// `self`-less group root).
fn flatten(tree: &syn::UseTree, prefix: Vec<String>, out: &mut Vec<(Vec<String>, Option<String>)>) {
    let with = |s: String| {
        let mut p = prefix.clone();
        p.push(s);
        p
    };
    match tree {
        syn::UseTree::Path(p) => flatten(&p.tree, with(p.ident.to_string()), out),
        syn::UseTree::Name(n) if n.ident == "self" => {
            let name = prefix.last().cloned();
            out.push((prefix, name));
        }
        syn::UseTree::Name(n) => out.push((with(n.ident.to_string()), Some(n.ident.to_string()))),
        syn::UseTree::Rename(r) => {
            out.push((with(r.ident.to_string()), Some(r.rename.to_string())))
        }
        syn::UseTree::Glob(_) => out.push((prefix, None)),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                flatten(t, prefix.clone(), out);
            }
        }
    }
}

/// The absolute path inside the crate of `segments` written in `module`; `None` for paths into
/// other crates.
fn absolute(
    module: &ModPath,
    segments: &[String],
    modules: &BTreeSet<ModPath>,
) -> Option<Vec<String>> {
    let (first, rest) = segments.split_first()?;
    let mut base: Vec<String> = match first.as_str() {
        "crate" => Vec::new(),
        "self" => module.clone(),
        "super" => module[..module.len().checked_sub(1)?].to_vec(),
        name => {
            // A bare name is a child module of this one (2018 paths), else another crate.
            let mut child = module.clone();
            child.push(name.to_owned());
            if !modules.contains(&child) {
                return None;
            }
            return Some(child.into_iter().chain(rest.iter().cloned()).collect());
        }
    };
    let mut rest = rest;
    while let Some((s, tail)) = rest.split_first()
        && s == "super"
    {
        base.pop();
        rest = tail;
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The module an absolute path leads to: its longest module prefix, followed through the
/// re-exports of that module (a bounded number of times, re-exports may loop).
fn resolve(
    path: &[String],
    modules: &BTreeSet<ModPath>,
    infos: &BTreeMap<ModPath, ModuleInfo>,
) -> ModPath {
    let mut path = path.to_vec();
    for _ in 0..16 {
        let n = (0..=path.len()).rev().find(|&n| modules.contains(&path[..n])).unwrap_or(0);
        let module = path[..n].to_vec();
        let Some(next) = path.get(n).and_then(|item| infos.get(&module)?.reexports.get(item))
        else {
            return module;
        };
        if next.len() > path.len() && next.starts_with(&path) {
            return module;
        }
        let mut followed = next.clone();
        followed.extend(path[n + 1..].iter().cloned());
        if followed == path {
            return module;
        }
        path = followed;
    }
    path
}

/// Every strongly connected component of more than one module, as a cycle through it.
fn cycles_of(graph: &BTreeMap<ModPath, BTreeSet<Edge>>) -> Vec<Cycle> {
    let nodes: Vec<&ModPath> = graph.keys().collect();
    let index: BTreeMap<&ModPath, usize> = nodes.iter().enumerate().map(|(i, m)| (*m, i)).collect();
    let succ: Vec<Vec<usize>> = nodes
        .iter()
        .map(|m| graph[*m].iter().filter_map(|e| index.get(&e.to).copied()).collect())
        .collect();
    let mut cycles = Vec::new();
    for component in components(&succ) {
        if component.len() < 2 {
            continue;
        }
        let members: BTreeSet<usize> = component.iter().copied().collect();
        let path = cycle_through(component[0], &succ, &members);
        // Every import between members: breaking the cycle means removing enough of them.
        let mut imports = Vec::new();
        for &from in &component {
            for e in &graph[nodes[from]] {
                if index.get(&e.to).is_some_and(|to| members.contains(to)) {
                    imports.push(format!(
                        "{} -> {} ({})",
                        display(nodes[from]),
                        display(&e.to),
                        e.written
                    ));
                }
            }
        }
        let mut modules: Vec<String> = path.iter().map(|&i| display(nodes[i])).collect();
        modules.push(display(nodes[path[0]]));
        let members = component.iter().map(|&i| display(nodes[i])).collect();
        cycles.push(Cycle { modules, members, imports });
    }
    cycles
}

/// Strongly connected components (Tarjan), each sorted, in order of their smallest node.
fn components(succ: &[Vec<usize>]) -> Vec<Vec<usize>> {
    struct State<'a> {
        succ: &'a [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(s: &mut State<'_>, v: usize) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for &w in &s.succ[v] {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(i) if s.on_stack[w] => s.low[v] = s.low[v].min(i),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            component.sort_unstable();
            s.out.push(component);
        }
    }
    let n = succ.len();
    let mut s = State {
        succ,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(&mut s, v);
        }
    }
    s.out.sort();
    s.out
}

/// A shortest cycle from `start` back to itself inside `members` (breadth-first).
fn cycle_through(start: usize, succ: &[Vec<usize>], members: &BTreeSet<usize>) -> Vec<usize> {
    let mut parent: BTreeMap<usize, usize> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in &succ[v] {
            if !members.contains(&w) {
                continue;
            }
            if w == start {
                let mut path = vec![v];
                while let Some(&p) = parent.get(path.last().unwrap_or(&start)) {
                    path.push(p);
                }
                if path.last() != Some(&start) {
                    path.push(start);
                }
                path.reverse();
                path.dedup();
                return path;
            }
            if w != start && !parent.contains_key(&w) {
                parent.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    vec![start]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crate_of(files: &[(&str, &str)]) -> Vec<(PathBuf, String)> {
        files.iter().map(|(p, t)| (PathBuf::from(p), (*t).to_owned())).collect()
    }

    #[test]
    fn a_cycle_between_two_files_is_reported_with_its_imports() {
        let files = crate_of(&[
            ("lib.rs", "pub mod error; pub mod request_id; pub mod other;"),
            ("error.rs", "use crate::request_id::current; pub struct Body;"),
            (
                "request_id.rs",
                "use crate::error::Body; pub fn current() -> crate::error::Body { Body }",
            ),
            ("other.rs", "use crate::error::Body;"),
        ]);
        let cycles = find_cycles(&files).expect("parses");
        assert_eq!(cycles.len(), 1, "{cycles:?}");
        assert_eq!(cycles[0].modules, ["error", "request_id", "error"]);
        assert_eq!(
            cycles[0].imports,
            [
                "error -> request_id (use crate::request_id::current)",
                "request_id -> error (path crate::error::Body)",
                "request_id -> error (use crate::error::Body)"
            ]
        );
    }

    #[test]
    fn a_tree_of_imports_has_no_cycle() {
        let files = crate_of(&[
            ("lib.rs", "pub mod a; pub mod b; pub mod scope; pub use a::A;"),
            ("a.rs", "use crate::scope::current; pub struct A;"),
            ("b.rs", "use crate::{a::A, scope::{self, current}};"),
            ("scope.rs", "pub fn current() {}"),
        ]);
        assert_eq!(find_cycles(&files).expect("parses"), []);
    }

    #[test]
    fn a_parent_reexporting_its_children_is_not_a_cycle() {
        // ports/events.rs imports RepoError through its parent, which re-exports both children;
        // analytics/summary.rs uses an item defined in its parent, which uses summary.
        let files = crate_of(&[
            (
                "lib.rs",
                "pub mod ports; pub mod analytics; pub use ports::{EventRepository, RepoError};",
            ),
            (
                "ports/mod.rs",
                "pub mod error; pub mod events; pub use error::RepoError; pub use events::EventRepository;",
            ),
            ("ports/error.rs", "pub enum RepoError {}"),
            (
                "ports/events.rs",
                "use crate::ports::RepoError; use super::error::RepoError as E; pub trait EventRepository {}",
            ),
            (
                "analytics/mod.rs",
                "mod summary; pub use summary::Summary; use crate::RepoError; pub struct Filter;",
            ),
            (
                "analytics/summary.rs",
                "use crate::analytics::Filter; use super::Filter as F; pub struct Summary;",
            ),
        ]);
        assert_eq!(find_cycles(&files).expect("parses"), []);
    }

    #[test]
    fn a_cycle_through_a_reexport_is_still_a_cycle() {
        // `crate::Live` is `stream::Live`; state uses it and stream uses state.
        let files = crate_of(&[
            ("lib.rs", "pub mod routes; pub mod state; pub use routes::stream::Live;"),
            ("routes/mod.rs", "pub mod stream;"),
            ("routes/stream.rs", "use crate::state::AppState; pub struct Live;"),
            ("state.rs", "use crate::Live; pub struct AppState;"),
        ]);
        let cycles = find_cycles(&files).expect("parses");
        assert_eq!(cycles.len(), 1, "{cycles:?}");
        assert_eq!(cycles[0].modules, ["routes::stream", "state", "routes::stream"]);
    }

    #[test]
    fn a_path_written_in_code_is_an_edge_too() {
        // state.rs names a type of routes/stream.rs in a field, without a `use`.
        let files = crate_of(&[
            ("lib.rs", "pub mod routes; pub mod state;"),
            ("routes/mod.rs", "pub mod stream;"),
            ("routes/stream.rs", "use crate::state::AppState; pub struct Live;"),
            ("state.rs", "pub struct AppState { pub live: Option<crate::routes::stream::Live> }"),
        ]);
        let cycles = find_cycles(&files).expect("parses");
        assert_eq!(cycles.len(), 1, "{cycles:?}");
        assert_eq!(
            cycles[0].imports,
            [
                "routes::stream -> state (use crate::state::AppState)",
                "state -> routes::stream (path crate::routes::stream::Live)"
            ]
        );
    }

    #[test]
    fn test_modules_and_other_crates_are_not_edges() {
        let files = crate_of(&[
            ("lib.rs", "pub mod a; pub mod b;"),
            ("a.rs", "use crate::b::B; pub struct A; #[cfg(test)] mod tests;"),
            ("a/tests.rs", "use crate::b::B;"),
            (
                "b.rs",
                "use other_crate::a::A; #[cfg(test)] use crate::a::A as T; pub struct B; \
                      #[cfg(test)] mod tests { fn f() -> crate::a::A { crate::a::A } }",
            ),
            ("main.rs", "use crate::b::B;"),
        ]);
        assert_eq!(find_cycles(&files).expect("parses"), []);
    }
}
