//! The source layout: every module says what it owns, and the crate's parts depend only on
//! the parts below them (ARCHITECTURE.md, "Layers").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Each top-level part of `src/` and its layer: a part may use only parts of a lower layer.
/// A new part must be placed here, which is the point: where it sits is a decision.
const LAYERS: [(&str, u8); 18] = [
    ("text", 0),
    ("caught", 1),
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
const PURE: [&str; 3] = ["metrics", "digest", "chart"];
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
