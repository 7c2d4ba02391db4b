//! Whether files belong together: every input is a segment file, all of
//! one run (run id, workload sha256, seed, config, dataset), each segment
//! once, and none missing (unless a partial merge is allowed).

use std::collections::BTreeMap;

use super::model::{Input, MergeError, MergeOptions};
use crate::stress::StressResults;

/// Config fields that may differ between the workers of one run: they
/// describe one worker's machine, not the run (the segment rules' list).
pub use crate::stress::segment::LOCAL_FIELDS as IGNORED_CONFIG_FIELDS;

/// Which segments the inputs cover.
#[derive(Debug, PartialEq)]
pub struct Coverage {
    /// Segments in the run (N).
    pub count: u32,
    pub run_id: String,
    /// Missing segments, 0-based.
    pub missing: Vec<u32>,
}

/// The config fields (top-level keys of its JSON) in which `a` and `b`
/// differ, less [`IGNORED_CONFIG_FIELDS`].
fn differing_fields(a: &serde_json::Value, b: &serde_json::Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let (a, b) = (
        a.as_object().unwrap_or(&empty),
        b.as_object().unwrap_or(&empty),
    );
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| !IGNORED_CONFIG_FIELDS.contains(&k.as_str()) && a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

fn config_json(r: &StressResults) -> serde_json::Value {
    serde_json::to_value(&r.config).unwrap_or_default()
}

/// All inputs must agree with the first on `what` (`value` of each).
fn agree(
    inputs: &[Input],
    what: &str,
    value: impl Fn(&StressResults) -> String,
) -> Result<(), MergeError> {
    let first = &inputs[0];
    let v0 = value(&first.results);
    for i in &inputs[1..] {
        let v = value(&i.results);
        if v != v0 {
            return Err(MergeError(format!(
                "the workers disagree on the {what}: {} has {v0}, {} has {v}; only the files of one run merge",
                first.file, i.file
            )));
        }
    }
    Ok(())
}

/// Check that `inputs` are the segments of one run.
pub fn check(inputs: &[Input], opts: &MergeOptions) -> Result<Coverage, MergeError> {
    if inputs.is_empty() {
        return Err(MergeError("no results files to merge".into()));
    }
    for i in inputs {
        if i.results.segment.is_none() {
            return Err(MergeError(format!(
                "{} is not a segment file (no `segment`: a one-process run or a merged file); merge takes the results of `dbload stress --segment K/N` workers",
                i.file
            )));
        }
    }
    let seg = |r: &StressResults| r.segment.clone().expect("checked above");
    agree(inputs, "run id", |r| format!("{:?}", seg(r).run_id))?;
    agree(inputs, "segment count", |r| seg(r).count.to_string())?;
    agree(inputs, "workload (sha256)", |r| r.workload.sha256.clone())?;
    agree(inputs, "seed", |r| r.config.seed.to_string())?;
    agree(inputs, "dataset fingerprint", |r| match &r.dataset {
        Some(d) => d.to_string(),
        None => "none".into(),
    })?;
    agree(inputs, "agreed start (--start-at or --rendezvous)", |r| {
        seg(r).start_at.map_or("none".into(), |t| t.to_rfc3339())
    })?;
    same_time(inputs)?;
    let c0 = config_json(&inputs[0].results);
    for i in &inputs[1..] {
        let differ = differing_fields(&c0, &config_json(&i.results));
        if !differ.is_empty() {
            return Err(MergeError(format!(
                "the workers disagree on the config: {} and {} differ in {} (only {} may differ between workers)",
                inputs[0].file,
                i.file,
                differ.join(", "),
                IGNORED_CONFIG_FIELDS.join(", ")
            )));
        }
    }
    let first = seg(&inputs[0].results);
    let count = first.count;
    let mut by_index: BTreeMap<u32, &str> = BTreeMap::new();
    for i in inputs {
        let k = seg(&i.results).index;
        if k >= count {
            return Err(MergeError(format!(
                "{}: segment {k} (0-based) is outside a run of {count} segments",
                i.file
            )));
        }
        if let Some(other) = by_index.insert(k, &i.file) {
            return Err(MergeError(format!(
                "segment {k} (0-based) of {count} appears twice: {other} and {}",
                i.file
            )));
        }
    }
    let missing: Vec<u32> = (0..count).filter(|k| !by_index.contains_key(k)).collect();
    if !missing.is_empty() && !opts.allow_partial {
        let have: Vec<String> = by_index.iter().map(|(k, f)| format!("{f} = {k}")).collect();
        return Err(MergeError(format!(
            "segment(s) {} (0-based) of {count} missing (given: {}); pass --allow-partial to merge what is there",
            join(&missing),
            have.join(", ")
        )));
    }
    Ok(Coverage {
        count,
        run_id: first.run_id,
        missing,
    })
}

/// The workers ran at the same time: their starts are less than the
/// (shortest) measured window apart — files of two runs that reused a run id
/// (`seed-1`, say) on different days do not merge.
fn same_time(inputs: &[Input]) -> Result<(), MergeError> {
    let first = inputs.iter().min_by_key(|i| i.results.started_at);
    let last = inputs.iter().max_by_key(|i| i.results.started_at);
    let (Some(first), Some(last)) = (first, last) else {
        return Ok(());
    };
    let window = inputs
        .iter()
        .map(|i| i.results.measured_secs)
        .fold(f64::INFINITY, f64::min)
        .max(1.0);
    let apart = (last.results.started_at - first.results.started_at).as_seconds_f64();
    if apart > window {
        return Err(MergeError(format!(
            "the workers did not run at the same time: {} started at {}, {} at {} ({apart:.1} s \
             apart, more than the {window:.1} s measured window); only the files of one run merge",
            first.file,
            first.results.started_at.to_rfc3339(),
            last.file,
            last.results.started_at.to_rfc3339()
        )));
    }
    Ok(())
}

/// `0, 2` from `[0, 2]`.
pub fn join(v: &[u32]) -> String {
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn per_machine_config_fields_may_differ_and_nothing_else() {
        // The open model's pool is each worker's own (its machine's default).
        let a = json!({"pool": 8, "seed": 1, "model": "open"});
        let b = json!({"pool": 16, "seed": 1, "model": "open"});
        assert!(differing_fields(&a, &b).is_empty());
        let c = json!({"pool": 9, "seed": 2, "model": "open", "extra": true});
        assert_eq!(differing_fields(&a, &c), vec!["extra", "seed"]);
        assert_eq!(join(&[0, 2]), "0, 2");
    }
}
