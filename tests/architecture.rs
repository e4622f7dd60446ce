//! The import graph of `src/` has no circle: between the crate's top-level modules, and
//! between the sandbox's rooms (api, federation, core, websocket, …), so each layer can be
//! read and changed standing only on the ones below it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The code of a file without its comments (doc comments name other modules freely).
fn code(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module path of a file below `src/` (`sandbox/api/mod.rs` → `["sandbox", "api"]`).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The absolute module paths a file's code names: `crate::a::b…`, and `super::…` resolved
/// from the file's own module.
fn named_paths(module: &[String], code: &str) -> Vec<Vec<String>> {
    let path = regex::Regex::new(r"\b((?:crate|super)(?:::\w+)+)").unwrap();
    let braced = regex::Regex::new(r"\b((?:crate|super)(?:::\w+)*)::\{([^{}]*)\}").unwrap();
    let resolve = |text: &str| -> Vec<String> {
        let mut at: Vec<String> = Vec::new();
        for (i, part) in text.split("::").enumerate() {
            match (i, part) {
                (0, "crate") => at.clear(),
                (0, "super") => {
                    at = module.to_vec();
                    at.pop();
                }
                (_, "super") => {
                    at.pop();
                }
                (_, "self") => {}
                _ => at.push(part.to_string()),
            }
        }
        at
    };
    let mut found: Vec<Vec<String>> = path.captures_iter(code).map(|c| resolve(&c[1])).collect();
    for c in braced.captures_iter(code) {
        for item in c[2].split(',') {
            let item = item.split_whitespace().next().unwrap_or("");
            let first = item.split("::").next().unwrap_or("");
            if !first.is_empty() && first != "self" {
                found.push(resolve(&format!("{}::{first}", &c[1])));
            }
        }
    }
    found
}

/// The cycles (strongly connected sets of more than one node) of a graph.
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    let nodes: BTreeSet<&String> = edges.keys().chain(edges.values().flatten()).collect();
    let reach = |from: &String| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(n) = todo.pop() {
            for next in edges.get(&n).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&String, BTreeSet<String>> =
        nodes.iter().map(|n| (*n, reach(n))).collect();
    let mut found: Vec<BTreeSet<String>> = Vec::new();
    for n in &nodes {
        let set: BTreeSet<String> = nodes
            .iter()
            .filter(|m| reachable[*n].contains(**m) && reachable[**m].contains(*n))
            .map(|m| m.to_string())
            .collect();
        if set.len() > 1 && !found.contains(&set) {
            found.push(set);
        }
    }
    found
}

/// The edges between the children of module `parent` (`[]` for the crate root): a file in
/// child `a` naming something in child `b`.
fn graph_below(parent: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in sources(&src) {
        let module = module_of(&src, &file);
        let inside = module.len() > parent.len() && module.iter().zip(parent).all(|(a, b)| a == b);
        if !inside {
            continue;
        }
        let from = &module[parent.len()];
        for named in named_paths(&module, &code(&file)) {
            let below = named.len() > parent.len() && named.iter().zip(parent).all(|(a, b)| a == b);
            if below && &named[parent.len()] != from {
                edges
                    .entry(from.clone())
                    .or_default()
                    .insert(named[parent.len()].clone());
            }
        }
    }
    edges
}

#[test]
fn the_crates_top_level_modules_import_one_another_without_a_circle() {
    let edges = graph_below(&[]);
    assert!(
        edges.contains_key("bot") && edges.contains_key("review"),
        "{edges:?}"
    );
    assert_eq!(cycles(&edges), Vec::<BTreeSet<String>>::new(), "{edges:#?}");
}

#[test]
fn the_sandboxs_rooms_import_one_another_without_a_circle() {
    let edges = graph_below(&["sandbox"]);
    assert!(
        edges.contains_key("api") && edges.contains_key("federation"),
        "{edges:?}"
    );
    assert!(!edges["api"].contains("federation"), "{edges:#?}");
    assert!(!edges["federation"].contains("api"), "{edges:#?}");
    assert_eq!(cycles(&edges), Vec::<BTreeSet<String>>::new(), "{edges:#?}");
}

#[test]
fn the_cycle_finder_finds_a_circle() {
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
    .collect();
    let expected: BTreeSet<String> = ["a", "b", "c"].into_iter().map(String::from).collect();
    assert_eq!(cycles(&edges), vec![expected]);
}

#[test]
fn paths_are_resolved_from_the_files_module() {
    let module: Vec<String> = ["sandbox", "federation", "sync"]
        .into_iter()
        .map(String::from)
        .collect();
    let named = named_paths(
        &module,
        "use super::super::api::Shared;\nuse crate::sandbox::{core::events, model::Post};\nuse super::outbound;",
    );
    let as_text: Vec<String> = named.iter().map(|p| p.join("::")).collect();
    assert!(
        as_text.contains(&"sandbox::api::Shared".to_string()),
        "{as_text:?}"
    );
    assert!(
        as_text.contains(&"sandbox::core".to_string()),
        "{as_text:?}"
    );
    assert!(
        as_text.contains(&"sandbox::model".to_string()),
        "{as_text:?}"
    );
    assert!(
        as_text.contains(&"sandbox::federation::outbound".to_string()),
        "{as_text:?}"
    );
}
