//! The layering of `src/`, checked: every `crate::…` and `super::…` path
//! in the code is resolved to the module it names, and
//! - a top-level module may import only what the "Layers" table of
//!   ARCHITECTURE.md allows it (the table is read from that file, so the
//!   document and the test cannot drift apart);
//! - the top-level modules import each other without a circle;
//! - inside each folder, files import each other without a circle (a
//!   folder's `mod.rs`, its face, is left out: it declares and re-exports);
//! - only the modules the table marks may name the terminal crates
//!   (clap, comfy-table, indicatif).
//!
//! Run it alone with `cargo test --test it architecture`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One source file: its module path (`["stress", "driver"]`) and text.
struct File {
    module: Vec<String>,
    path: String,
    text: String,
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn read_files(dir: &Path, module: &[String], out: &mut Vec<File>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        if p.is_dir() {
            let mut m = module.to_vec();
            m.push(name);
            read_files(&p, &m, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let mut m = module.to_vec();
            if name != "mod" && !(module.is_empty() && (name == "lib" || name == "main")) {
                m.push(name);
            }
            let rel = p.strip_prefix(src()).unwrap().display().to_string();
            out.push(File {
                module: m,
                path: format!("src/{rel}"),
                text: std::fs::read_to_string(&p).unwrap(),
            });
        }
    }
}

/// The code of a file without comments and string literals (so that
/// neither doc text nor SQL can look like an import).
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                i += 1;
            }
            i += 2;
        } else if b[i] == b'r' && matches!(b.get(i + 1), Some(b'"') | Some(b'#')) {
            // Raw string r"…" or r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                out.push(b[i] as char);
                i += 1;
                continue;
            }
            j += 1;
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            while j < b.len() && !b[j..].starts_with(&close) {
                j += 1;
            }
            i = j + close.len();
            out.push_str("\"\"");
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && b.get(i + 2) == Some(&b'\'') {
            // A char literal like '"' or '{'.
            i += 3;
        } else if b[i] == b'\'' && b.get(i + 1) == Some(&b'\\') {
            let end = text[i + 2..].find('\'').map_or(b.len(), |k| i + 3 + k);
            i = end;
        } else {
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// `code` without its `#[cfg(test)] mod … { … }` blocks: a test module's
/// `super` is the file's module, and tests may reach further than the code.
fn without_tests(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(k) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..k]);
        let after = &rest[k + "#[cfg(test)]".len()..];
        let trimmed = after.trim_start();
        if !(trimmed.starts_with("mod ") || trimmed.starts_with("pub(crate) mod ")) {
            rest = after;
            continue;
        }
        let Some(open) = after.find('{') else { break };
        let mut depth = 0;
        let mut end = after.len();
        for (i, c) in after[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Expand a `use` tree (`super::{a, b::{c, d}}`) into whole paths.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else {
        return vec![tree];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (k, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..k]);
                start = k + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(p).into_iter().map(move |x| format!("{prefix}{x}")))
        .collect()
}

/// Every path a file names that starts with `crate::` or `super::`.
fn paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    // `use` statements, braces and all.
    let mut rest = code;
    while let Some(k) = rest.find("use ") {
        let before = rest[..k].chars().last();
        let after = &rest[k + 4..];
        rest = after;
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let Some(end) = after.find(';') else { break };
        let tree = after[..end].trim();
        if tree.starts_with("crate::") || tree.starts_with("super::") || tree.starts_with("self::")
        {
            out.extend(expand(tree));
        }
    }
    // Paths written inline (`crate::db::connect(…)`).
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(k) = code[from..].find(start) {
            let at = from + k;
            from = at + start.len();
            if code[..at]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
            {
                continue;
            }
            let len = code[at..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(code.len() - at);
            out.push(code[at..at + len].trim_end_matches(':').to_string());
        }
    }
    out
}

/// The module a path names from `file`, as far as it is a module of
/// `modules` (the longest prefix that is one).
fn resolve(path: &str, file: &File, modules: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    let mut segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let mut base: Vec<String> = match *segs.first()? {
        "crate" => Vec::new(),
        "self" => file.module.clone(),
        // The parent of a file's module (of a folder's, for its mod.rs).
        "super" => file.module[..file.module.len().saturating_sub(1)].to_vec(),
        _ => return None,
    };
    segs.remove(0);
    while segs.first() == Some(&"super") {
        base.pop();
        segs.remove(0);
    }
    let mut best = None;
    let mut m = base.clone();
    if modules.contains(&m) {
        best = Some(m.clone());
    }
    for s in segs {
        m.push(s.to_string());
        if modules.contains(&m) {
            best = Some(m.clone());
        }
    }
    best
}

/// The rows of the "Layers" table of ARCHITECTURE.md: module → what it
/// may import (module paths; `*` for anything) and whether it may use the
/// terminal crates.
fn rules() -> BTreeMap<String, (Vec<String>, bool)> {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md"))
            .unwrap();
    let section = doc
        .split("\n## ")
        .find(|s| s.starts_with("Layers"))
        .expect("ARCHITECTURE.md has a \"## Layers\" section");
    let mut out = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let name = cells[1].trim_matches('`').to_string();
        let allowed = cells[2]
            .split(',')
            .map(|c| c.trim().trim_matches('`').to_string())
            .filter(|c| !c.is_empty() && c != "—")
            .collect();
        let terminal = cells[3] == "yes";
        out.insert(name, (allowed, terminal));
    }
    assert!(!out.is_empty(), "no rows in the Layers table");
    out
}

/// A circle in `edges`, if there is one (as the list of its nodes).
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in edges.get(n).into_iter().flatten() {
            match state.get(m.as_str()) {
                Some(1) => {
                    let from = stack.iter().position(|x| x == m).unwrap();
                    let mut c = stack[from..].to_vec();
                    c.push(m.clone());
                    return Some(c);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(m, edges, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in edges.keys() {
        if !state.contains_key(n)
            && let Some(c) = visit(n, edges, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

/// The top-level module of a module path (`lib` for the crate root).
fn top(m: &[String]) -> String {
    m.first().cloned().unwrap_or_else(|| "lib".into())
}

#[test]
fn layers_follow_the_table_and_nothing_imports_in_a_circle() {
    let mut files = Vec::new();
    read_files(&src(), &[], &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| f.module.clone()).collect();
    let rules = rules();
    let mut problems = BTreeSet::new();
    let mut top_edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut file_edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let path_of: BTreeMap<Vec<String>, String> = files
        .iter()
        .filter(|f| !f.path.ends_with("main.rs"))
        .map(|f| (f.module.clone(), f.path.clone()))
        .collect();

    for f in &files {
        if f.path == "src/main.rs" {
            continue; // the binary uses the library by its crate name
        }
        let from = top(&f.module);
        let Some((allowed, terminal)) = rules.get(&from) else {
            problems.insert(format!(
                "{}: module `{from}` has no row in ARCHITECTURE.md's Layers table",
                f.path
            ));
            continue;
        };
        let code = without_tests(&code_only(&f.text));
        let is_mod_rs = f.path.ends_with("mod.rs");
        if !terminal {
            for krate in ["clap", "comfy_table", "indicatif"] {
                if code.contains(&format!("{krate}::")) {
                    problems.insert(format!("{}: `{from}` must not use {krate}", f.path));
                }
            }
        }
        for p in paths(&code) {
            // The crate root's items (exit codes) are everyone's.
            let Some(to) = resolve(&p, f, &modules).filter(|m| !m.is_empty()) else {
                continue;
            };
            let to_top = top(&to);
            if to_top != from && from != "lib" {
                let named = to.join("::");
                let ok = allowed
                    .iter()
                    .any(|a| a == "*" || named == *a || named.starts_with(&format!("{a}::")));
                if !ok {
                    problems.insert(format!(
                        "{}: `{from}` must not import `{named}` (ARCHITECTURE.md, Layers)",
                        f.path
                    ));
                }
                top_edges.entry(from.clone()).or_default().insert(to_top);
            }
            // Files of one folder, without its mod.rs.
            let same_folder = f.module.len() > 1 && to.len() > 1 && to[0] == f.module[0];
            if same_folder && !is_mod_rs && to != f.module {
                let target = &path_of[&to];
                if !target.ends_with("mod.rs") {
                    file_edges
                        .entry(f.path.clone())
                        .or_default()
                        .insert(target.clone());
                }
            }
        }
    }
    // The crate root only declares modules and dispatches.
    top_edges.remove("lib");
    if let Some(c) = find_cycle(&top_edges) {
        problems.insert(format!("modules import in a circle: {}", c.join(" → ")));
    }
    if let Some(c) = find_cycle(&file_edges) {
        problems.insert(format!("files import in a circle: {}", c.join(" → ")));
    }
    assert!(
        problems.is_empty(),
        "{}",
        problems.into_iter().collect::<Vec<_>>().join("\n")
    );
    // The check sees imports at all (a parser that finds nothing passes).
    assert!(
        top_edges
            .get("stress")
            .is_some_and(|e| e.contains("workload"))
    );
    assert!(
        file_edges
            .get("src/stress/driver.rs")
            .is_some_and(|e| e.contains("src/stress/collector.rs"))
    );
}

#[test]
fn the_checker_sees_grouped_relative_and_inline_paths() {
    assert_eq!(
        expand("super::{a, b::{C, d}}"),
        vec!["super::a", "super::b::C", "super::b::d"]
    );
    let code = code_only(
        "use super::{driver::X, results};\n// crate::report::x\nlet s = \"crate::cli\";\nfn f() { crate::db::connect(); }\n",
    );
    let p = paths(&code);
    assert!(p.contains(&"super::driver::X".to_string()), "{p:?}");
    assert!(p.contains(&"crate::db::connect".to_string()), "{p:?}");
    assert!(
        !p.iter().any(|x| x.contains("report") || x.contains("cli")),
        "{p:?}"
    );
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    edges.entry("a".into()).or_default().insert("b".into());
    assert_eq!(find_cycle(&edges), None);
    let t = without_tests(
        "use a;\n#[cfg(test)]\nmod tests {\n    use super::x;\n    fn f() { {} }\n}\nuse b;\n",
    );
    assert_eq!(t, "use a;\n\nuse b;\n");
    edges.entry("b".into()).or_default().insert("a".into());
    assert_eq!(
        find_cycle(&edges),
        Some(vec!["a".into(), "b".into(), "a".into()])
    );
}
