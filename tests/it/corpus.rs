//! The malformed-input corpus (`fixtures/malformed/cases.toml`): every case
//! exits with its code and names what is at fault, without a panic or a
//! password, and before any database is reached.

use std::path::Path;
use std::time::Duration;

use crate::common::dbload;

#[derive(serde::Deserialize)]
struct Corpus {
    case: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    name: String,
    args: Vec<String>,
    code: i32,
    stderr: Vec<String>,
}

/// Where no server listens: a case that reached for a database would fail
/// naming this address instead of what it was meant to.
const NOWHERE: &str = "postgresql://nobody:corpus-secret@127.0.0.1:1/none";

#[test]
fn every_malformed_input_is_refused_naming_what_is_at_fault() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/malformed");
    let text = std::fs::read_to_string(dir.join("cases.toml")).unwrap();
    let corpus: Corpus = toml::from_str(&text).unwrap();
    assert!(corpus.case.len() >= 25, "{} cases", corpus.case.len());
    let mut failures = Vec::new();
    for case in &corpus.case {
        let args: Vec<String> = case
            .args
            .iter()
            .map(|a| a.replace("{dir}", &dir.display().to_string()))
            .collect();
        let mut cmd = dbload();
        if !args.iter().any(|a| a == "-d") {
            cmd.args(["-d", NOWHERE]);
        }
        let out = cmd
            .args(&args)
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        let missing: Vec<&String> = case
            .stderr
            .iter()
            .filter(|s| !err.contains(s.as_str()))
            .collect();
        if out.status.code() != Some(case.code)
            || !missing.is_empty()
            || err.contains("panicked")
            || err.contains("secret")
        {
            failures.push(format!(
                "{}: exit {:?} (want {}), missing {missing:?}\n{err}",
                case.name,
                out.status.code(),
                case.code
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
