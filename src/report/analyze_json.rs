//! `dbload analyze --format json`: the report as versioned JSON
//! (`"schema": "dbload.analyze/1"`).

use crate::analyze::model::AnalyzeReport;

/// Pretty JSON with a trailing newline.
pub fn render(r: &AnalyzeReport) -> String {
    let mut s = serde_json::to_string_pretty(r).expect("report serializes");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::analyze_markdown::tests::sample;

    #[test]
    fn versioned_and_round_trips() {
        let r = sample();
        let text = render(&r);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["schema"], "dbload.analyze/1");
        assert_eq!(v["verification"], "hypopg");
        assert_eq!(v["proposals"][0]["columns"][1]["desc"], true);
        assert_eq!(v["statements"][1]["reason"], "parse_error");
        let back: AnalyzeReport = serde_json::from_str(&text).unwrap();
        assert_eq!(back.proposals.len(), 1);
    }
}
