//! Whether two runs may be compared: the dataset fingerprint (seed, scale,
//! schema version, row counts of the `dbload_datasets` row), the workload
//! (sha256 of its text) and the server (version and the key settings that
//! stress records) must be the same. Returns every difference, so the user
//! is told exactly what differs.

use super::model::Mismatch;
use crate::stress::StressResults;

/// Dataset fields that define the data (the row id and timestamps do not).
const DATASET_FIELDS: &[&str] = &["seed", "scale", "schema_version", "row_counts"];

fn show(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => "none".into(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

fn push(out: &mut Vec<Mismatch>, kind: &str, field: &str, b: String, c: String) {
    if b != c {
        out.push(Mismatch {
            kind: kind.into(),
            field: field.into(),
            baseline: b,
            current: c,
        });
    }
}

/// Every difference between the environments of `baseline` and `current`.
pub fn mismatches(baseline: &StressResults, current: &StressResults) -> Vec<Mismatch> {
    let mut out = Vec::new();
    match (&baseline.dataset, &current.dataset) {
        (None, None) => {}
        (Some(b), Some(c)) => {
            for f in DATASET_FIELDS {
                push(&mut out, "dataset", f, show(b.get(*f)), show(c.get(*f)));
            }
        }
        (b, c) => push(
            &mut out,
            "dataset",
            "fingerprint",
            b.as_ref()
                .map(|_| "dbload dataset")
                .unwrap_or("none")
                .into(),
            c.as_ref()
                .map(|_| "dbload dataset")
                .unwrap_or("none")
                .into(),
        ),
    }
    push(
        &mut out,
        "workload",
        "sha256",
        baseline.workload.sha256.clone(),
        current.workload.sha256.clone(),
    );
    push(
        &mut out,
        "server",
        "version",
        baseline.server.version_num.to_string(),
        current.server.version_num.to_string(),
    );
    let names: std::collections::BTreeSet<&String> = baseline
        .server
        .settings
        .keys()
        .chain(current.server.settings.keys())
        .collect();
    for n in names {
        let get = |r: &StressResults| r.server.settings.get(n).cloned().unwrap_or("unset".into());
        push(&mut out, "server", n, get(baseline), get(current));
    }
    out
}

/// Check a dataset fingerprint against the scale a suite expects.
pub fn scale_mismatch(expected: f64, dataset: Option<&serde_json::Value>) -> Option<Mismatch> {
    let actual = dataset
        .and_then(|d| d.get("scale"))
        .and_then(|s| s.as_f64());
    match actual {
        Some(a) if (a - expected).abs() <= 1e-9 * expected.abs().max(1.0) => None,
        _ => Some(Mismatch {
            kind: "dataset".into(),
            field: "scale".into(),
            baseline: format!("{expected} (the suite's)"),
            current: actual.map(|a| a.to_string()).unwrap_or_else(|| {
                "none (no complete dbload_datasets row: run `dbload seed`)".into()
            }),
        }),
    }
}

/// One line per difference, for messages.
pub fn describe(ms: &[Mismatch]) -> String {
    ms.iter()
        .map(|m| {
            format!(
                "{} {}: baseline {} ≠ current {}",
                m.kind, m.field, m.baseline, m.current
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> StressResults {
        serde_json::from_str(include_str!("../../fixtures/stress_results.json")).unwrap()
    }

    #[test]
    fn identical_runs_match() {
        let r = fixture();
        assert!(mismatches(&r, &r).is_empty());
    }

    #[test]
    fn names_every_difference() {
        let b = fixture();
        let mut c = fixture();
        c.workload.sha256 = "other".into();
        c.server.version_num += 1;
        c.server.settings.insert("work_mem".into(), "64MB".into());
        c.dataset = Some(
            serde_json::json!({"id": 9, "seed": 1, "scale": 0.1, "schema_version": 2, "row_counts": {}}),
        );
        let m = mismatches(&b, &c);
        let fields: Vec<(&str, &str)> = m
            .iter()
            .map(|m| (m.kind.as_str(), m.field.as_str()))
            .collect();
        assert!(fields.contains(&("workload", "sha256")), "{fields:?}");
        assert!(fields.contains(&("server", "version")), "{fields:?}");
        assert!(fields.contains(&("server", "work_mem")), "{fields:?}");
        assert!(describe(&m).contains("work_mem"));
        // Dataset: same data with another row id is the same dataset.
        let mut d1 = fixture();
        let mut d2 = fixture();
        d1.dataset = Some(
            serde_json::json!({"id": 1, "seed": 42, "scale": 0.01, "schema_version": 2, "row_counts": {"pets": 10}}),
        );
        d2.dataset = Some(
            serde_json::json!({"id": 2, "seed": 42, "scale": 0.01, "schema_version": 2, "row_counts": {"pets": 10}}),
        );
        assert!(mismatches(&d1, &d2).is_empty());
        d2.dataset = Some(
            serde_json::json!({"id": 2, "seed": 42, "scale": 0.1, "schema_version": 2, "row_counts": {"pets": 100}}),
        );
        let m = mismatches(&d1, &d2);
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(m.iter().all(|m| m.kind == "dataset"));
    }

    #[test]
    fn suite_scale() {
        let d = serde_json::json!({"scale": 0.01});
        assert!(scale_mismatch(0.01, Some(&d)).is_none());
        assert!(scale_mismatch(0.1, Some(&d)).is_some());
        assert!(
            scale_mismatch(0.01, None)
                .unwrap()
                .current
                .contains("dbload seed")
        );
    }
}
