//! The crate's top-level modules depend on each other without a cycle: read
//! from the `crate::` paths in the non-test source, so that a new `use`
//! that closes a loop fails here with the modules that form it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use regex::Regex;

type Graph = BTreeMap<String, BTreeSet<String>>;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level modules: `src/*.rs` (but `lib.rs`) and `src/*/`.
fn top_modules() -> BTreeSet<String> {
    fs::read_dir(src())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_owned();
            match name.strip_suffix(".rs") {
                Some("lib") => None,
                Some(stem) => Some(stem.to_owned()),
                None if p.is_dir() => Some(name),
                None => None,
            }
        })
        .collect()
}

/// Every `.rs` file under `dir` that is not test code.
fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap();
        if path.is_dir() {
            if name != "tests" {
                source_files(&path, out);
            }
        } else if name.ends_with(".rs") && !name.contains("test") {
            out.push(path);
        }
    }
}

/// The text of a file without comments and without its `mod tests`.
fn code(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap();
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => &text,
    };
    let comment = Regex::new(r"//[^\n]*").unwrap();
    comment.replace_all(text, "").into_owned()
}

fn graph() -> Graph {
    let tops = top_modules();
    let single = Regex::new(r"crate::([a-z_]+)").unwrap();
    let group = Regex::new(r"crate::\{([^}]*)\}").unwrap();
    let first = Regex::new(r"(?:^|[,{\s])([a-z_]+)").unwrap();
    let mut files = Vec::new();
    source_files(&src(), &mut files);
    let mut graph = Graph::new();
    for file in files {
        let rel = file.strip_prefix(src()).unwrap();
        let first_part = rel.components().next().unwrap().as_os_str();
        let from = first_part.to_str().unwrap().trim_end_matches(".rs");
        if from == "lib" {
            continue;
        }
        let text = code(&file);
        let mut to: Vec<String> = single.captures_iter(&text).map(|c| c[1].into()).collect();
        for g in group.captures_iter(&text) {
            to.extend(first.captures_iter(&g[1]).map(|c| c[1].into()));
        }
        for t in to.into_iter().filter(|t| t != from && tops.contains(t)) {
            graph.entry(from.into()).or_default().insert(t);
        }
    }
    graph
}

/// Whether `to` is reachable from `from`.
fn reaches(graph: &Graph, from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from];
    while let Some(m) = stack.pop() {
        for next in graph.get(m).into_iter().flatten() {
            if next == to {
                return true;
            }
            if seen.insert(next.as_str()) {
                stack.push(next);
            }
        }
    }
    false
}

#[test]
fn no_cycle_between_top_level_modules() {
    let graph = graph();
    let cycles: Vec<String> = graph
        .iter()
        .flat_map(|(from, tos)| tos.iter().map(move |to| (from, to)))
        .filter(|(from, to)| reaches(&graph, to, from))
        .map(|(from, to)| format!("{from} -> {to}"))
        .collect();
    assert!(cycles.is_empty(), "edges on a cycle: {cycles:?}");
}

#[test]
fn the_graph_sees_the_crate_paths() {
    let graph = graph();
    // The auditor runs the stages: if the scan missed these, it would miss
    // a cycle too.
    let auditor = &graph["auditor"];
    for stage in ["classify", "frame", "redact", "sink", "stamp"] {
        assert!(auditor.contains(stage), "auditor -> {stage} not found");
    }
    assert!(graph["policy"].contains("config"));
}
