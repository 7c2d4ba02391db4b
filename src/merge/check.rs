//! Whether files belong together: every input is a segment file, all of
//! one run (run id, workload sha256, seed, config, dataset), each segment
//! once, and none missing (unless a partial merge is allowed).

use std::collections::BTreeMap;

use super::model::{Input, MergeError, MergeOptions};
use crate::stress::StressResults;

/// Config fields that may differ between the workers of one run: they
/// describe one worker's machine, not the run. The one place to extend.
pub const IGNORED_CONFIG_FIELDS: &[&str] = &["threads"];

/// Which segments the inputs cover.
#[derive(Debug, PartialEq)]
pub struct Coverage {
    /// Segments in the run (N).
    pub count: u32,
    pub run_id: String,
    /// Missing segments, 0-based.
    pub missing: Vec<u32>,
}

fn config_fields(r: &StressResults) -> BTreeMap<String, serde_json::Value> {
    match serde_json::to_value(&r.config) {
        Ok(serde_json::Value::Object(m)) => m
            .into_iter()
            .filter(|(k, _)| !IGNORED_CONFIG_FIELDS.contains(&k.as_str()))
            .collect(),
        _ => BTreeMap::new(),
    }
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
    let c0 = config_fields(&inputs[0].results);
    for i in &inputs[1..] {
        let c = config_fields(&i.results);
        let differ: Vec<&str> = c0
            .keys()
            .chain(c.keys())
            .filter(|k| c0.get(*k) != c.get(*k))
            .map(String::as_str)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
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

/// `0, 2` from `[0, 2]`.
pub fn join(v: &[u32]) -> String {
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}
