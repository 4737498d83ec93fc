//! The source layout: every module says what it owns, and the crate's parts depend only on
//! the parts below them (ARCHITECTURE.md, "Layers").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Each top-level part of `src/` and its layer: a part may use only parts of a lower layer.
/// A new part must be placed here, which is the point: where it sits is a decision.
const LAYERS: [(&str, u8); 20] = [
    ("text", 0),
    ("caught", 1),
    ("progress", 1),
    ("schema", 0),
    ("shutdown", 0),
    ("schedule", 0),
    ("chart", 0),
    ("metrics", 1),
    ("config", 2),
    ("store", 3),
    ("ingest", 4),
    ("digest", 4),
    ("shops", 4),
    ("demo", 5),
    ("email", 5),
    ("chat", 5),
    ("delivery", 6),
    ("serve", 7),
    ("cli", 8),
    ("main", 9),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level part a file under `src/` belongs to (`src/store/rollup.rs` -> `store`).
fn part_of(file: &Path) -> String {
    let rel = file.strip_prefix(src()).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// Every part named as `crate::part` in `text`.
fn parts_used(text: &str) -> Vec<String> {
    let mut used = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `dawnpost_crate::` or similar: not this crate's path
        }
        let name: String = text[at + 7..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        if !name.is_empty() {
            used.push(name);
        }
    }
    used
}

#[test]
fn every_part_uses_only_the_parts_below_it() {
    let layers: BTreeMap<&str, u8> = LAYERS.into_iter().collect();
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    assert!(
        files.len() > 40,
        "found only {} files under src/",
        files.len()
    );
    let mut wrong = Vec::new();
    for file in &files {
        let part = part_of(file);
        if part == "lib" {
            continue;
        }
        let Some(&layer) = layers.get(part.as_str()) else {
            wrong.push(format!(
                "{}: part `{part}` has no layer in LAYERS",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for used in parts_used(&text) {
            if used == part {
                continue;
            }
            match layers.get(used.as_str()) {
                Some(&l) if l < layer => {}
                Some(&l) => wrong.push(format!(
                    "{}: `{part}` (layer {layer}) uses `{used}` (layer {l})",
                    file.display()
                )),
                None => wrong.push(format!("{}: uses unknown part `{used}`", file.display())),
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The pure core: figures, the digest and charts are worked out from values alone. They may
/// not reach the parts that do I/O, whatever their layers would allow.
const PURE: [&str; 4] = ["metrics", "digest", "chart", "chat"];
const IMPURE: [&str; 8] = [
    "store", "ingest", "delivery", "demo", "email", "serve", "shops", "cli",
];

#[test]
fn the_pure_core_never_names_the_store() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut wrong = Vec::new();
    for file in files.iter().filter(|f| PURE.contains(&part_of(f).as_str())) {
        let text = std::fs::read_to_string(file).unwrap();
        for used in parts_used(&text) {
            if IMPURE.contains(&used.as_str()) {
                wrong.push(format!("{}: the pure core uses `{used}`", file.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_module_starts_by_saying_what_it_owns() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let undocumented: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            !text.starts_with("//! ")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        undocumented.is_empty(),
        "no `//!` first line: {undocumented:?}"
    );
}

#[test]
fn the_layer_check_sees_a_use_and_ignores_lookalikes() {
    assert_eq!(
        parts_used("use crate::store::rollup; x.my_crate::y; crate::{a}"),
        ["store"]
    );
    assert_eq!(part_of(&src().join("store").join("rollup.rs")), "store");
    assert_eq!(part_of(&src().join("cli.rs")), "cli");
}

/// The files of `delivery` that may speak email: the email channel and its SMTP client. The
/// ledger loop, the channel seam, the outbox and the owner's note work for any channel, so
/// a new channel is a file beside `email.rs`, not an edit of the loop.
const EMAIL_ONLY: [&str; 2] = ["email.rs", "smtp.rs"];

#[test]
fn only_the_email_channel_names_lettre_in_delivery() {
    let mut files = Vec::new();
    rust_files(&src().join("delivery"), &mut files);
    assert!(files.len() >= 6, "found only {files:?}");
    let mut wrong = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy();
        if EMAIL_ONLY.contains(&name.as_ref()) {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for word in ["lettre", "Mailbox"] {
            if text.contains(word) {
                wrong.push(format!("{}: names `{word}`", file.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The modules of `src/ingest` each file names (`mod.rs` as `mod`), outside comments and its
/// tests: `use super::x` / `super::{x, y::z}` / `crate::ingest::x` / a bare `x::` path. A
/// `super::Item` that is no sibling module is an item of `mod.rs`.
fn ingest_uses(text: &str, siblings: &[String]) -> Vec<String> {
    uses_in(text, siblings, "crate::ingest::")
}

/// Which of `siblings` (the files of the folder whose crate path is `own`) `text` uses, as
/// [`ingest_uses`] says; "mod" for what the folder's `mod.rs` holds.
fn uses_in(text: &str, siblings: &[String], own: &str) -> Vec<String> {
    let code: String = text
        .split("#[cfg(test)]")
        .next()
        .unwrap_or("")
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let word = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut used = Vec::new();
    let mut name = |n: String| {
        if siblings.contains(&n) {
            used.push(n);
        } else if !n.is_empty() {
            used.push("mod".to_string());
        }
    };
    for prefix in ["super::", own] {
        for (at, _) in code.match_indices(prefix) {
            let rest = &code[at + prefix.len()..];
            match rest.strip_prefix('{') {
                // Each top-level path in the braces.
                Some(group) => {
                    let (mut depth, mut start) = (0, 0);
                    for (i, c) in group.char_indices() {
                        match c {
                            '{' => depth += 1,
                            '}' if depth == 0 => {
                                name(word(group[start..].trim_start()));
                                break;
                            }
                            '}' => depth -= 1,
                            ',' if depth == 0 => {
                                name(word(group[start..].trim_start()));
                                start = i + 1;
                            }
                            _ => {}
                        }
                    }
                }
                None => name(word(rest)),
            }
        }
    }
    // `x::` on its own (after `use super::x;` or from `mod.rs`): a sibling's name not
    // inside a longer path.
    for s in siblings {
        let pat = format!("{s}::");
        for (at, _) in code.match_indices(&pat) {
            let before = code[..at].chars().next_back();
            if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                used.push(s.clone());
            }
        }
    }
    used.sort();
    used.dedup();
    used
}

/// A circle in `graph`, as the modules on it, if there is one.
fn circle(graph: &BTreeMap<String, Vec<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, Vec<String>>,
        path: &mut Vec<String>,
        done: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut c = path[i..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if done.iter().any(|d| d == n) {
            return None;
        }
        path.push(n.to_string());
        for next in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.push(n.to_string());
        None
    }
    let mut done = Vec::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

/// The `.rs` files directly in `dir` (its subfolders are graphs of their own).
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    out.sort();
    out
}

/// Which of its siblings each file directly in `dir` uses; `own` is the folder's crate path
/// (`crate::ingest::live::`).
fn sibling_graph(dir: &Path, own: &str) -> BTreeMap<String, Vec<String>> {
    let files = files_in(dir);
    let stem = |f: &Path| f.file_stem().unwrap().to_string_lossy().to_string();
    let siblings: Vec<String> = files
        .iter()
        .map(|f| stem(f))
        .filter(|s| s != "mod")
        .collect();
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            let me = stem(f);
            let uses = uses_in(&text, &siblings, own);
            (me.clone(), uses.into_iter().filter(|u| *u != me).collect())
        })
        .collect()
}

/// The files of `src/ingest` use one another without a circle: a new format, a live source
/// or a change to the load step stays in its own file. Each folder is a graph of its own
/// (`live/`, `live/shopify/`), and the formats never reach into the live sources.
#[test]
fn ingest_has_no_import_circle() {
    let ingest = src().join("ingest");
    let graph = sibling_graph(&ingest, "crate::ingest::");
    assert!(graph.len() > 10, "found only {:?}", graph.keys());
    assert_eq!(circle(&graph), None, "{graph:#?}");
    let folders = [
        (ingest.join("live"), "crate::ingest::live::"),
        (
            ingest.join("live/shopify"),
            "crate::ingest::live::shopify::",
        ),
    ];
    for (dir, own) in folders {
        let graph = sibling_graph(&dir, own);
        assert!(graph.len() >= 3, "{}: {:?}", dir.display(), graph.keys());
        assert_eq!(circle(&graph), None, "{}: {graph:#?}", dir.display());
    }
    for f in files_in(&ingest).iter().filter(|f| !f.ends_with("mod.rs")) {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(
            !text.contains("live::"),
            "{} reaches into the live sources",
            f.display()
        );
    }
}

#[test]
fn the_ingest_graph_sees_every_kind_of_use_and_finds_a_circle() {
    let siblings: Vec<String> = ["load", "preset", "values", "source"]
        .map(String::from)
        .to_vec();
    let text = "//! x\nuse super::load::{Rows, Target};\nuse super::{ImportOptions, \
                values::{a, b}};\nuse crate::ingest::source;\nfn f() { preset::g(); \
                crate::store::load::h(); }\n// super::nothing\n#[cfg(test)]\nmod tests { \
                use super::*; }";
    assert_eq!(
        ingest_uses(text, &siblings),
        ["load", "mod", "preset", "source", "values"]
    );
    let g = |edges: &[(&str, &str)]| {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (a, b) in edges {
            m.entry(a.to_string()).or_default().push(b.to_string());
        }
        m
    };
    assert_eq!(circle(&g(&[("a", "b"), ("b", "c")])), None);
    assert_eq!(
        circle(&g(&[("a", "b"), ("b", "c"), ("c", "a")])),
        Some(["a", "b", "c", "a"].map(String::from).to_vec())
    );
}

/// `serve` and the commands reach channels only through `delivery::outlets`: a new channel
/// joins that list, and nothing above `delivery` changes.
#[test]
fn no_command_names_a_channel() {
    let mut files = vec![src().join("serve.rs")];
    rust_files(&src().join("cli"), &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for word in ["EmailChannel", "Channel as", "delivery::send", "lettre"] {
            if text.contains(word) {
                wrong.push(format!("{}: names `{word}`", file.display()));
            }
        }
    }
    assert!(files.len() >= 4, "found only {files:?}");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
