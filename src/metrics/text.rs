//! The classic Prometheus text format (0.0.4) from the OpenMetrics text
//! `prometheus-client` writes, for clients that do not ask for OpenMetrics
//! (curl, `promtool check metrics`, a Pushgateway): counters are named by
//! their `_total` samples, an info metric becomes an `_info` gauge, and the
//! `# UNIT` and `# EOF` lines go.

/// The content type of the classic text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `openmetrics` in the classic text format.
pub fn from_openmetrics(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    let mut help: Option<(&str, &str)> = None;
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            // Written after its TYPE line, once the family's name is known.
            help = rest.split_once(' ').or(Some((rest, "")));
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            let (name, kind) = match kind {
                "counter" => (format!("{name}_total"), "counter"),
                "info" => (format!("{name}_info"), "gauge"),
                "unknown" => (name.to_string(), "untyped"),
                k => (name.to_string(), k),
            };
            if let Some((_, text)) = help.take() {
                out.push_str(&format!("# HELP {name} {text}\n"));
            }
            out.push_str(&format!("# TYPE {name} {kind}\n"));
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_infos_units_and_eof_become_classic_text() {
        let om = "# HELP dbload_run The run.\n# TYPE dbload_run info\ndbload_run_info{run_id=\"r\"} 1\n\
                  # HELP dbload_x Things.\n# TYPE dbload_x counter\ndbload_x_total 3\n\
                  # HELP dbload_t Time.\n# TYPE dbload_t_seconds histogram\n# UNIT dbload_t_seconds seconds\n\
                  dbload_t_seconds_count 1\n# EOF\n";
        assert_eq!(
            from_openmetrics(om),
            "# HELP dbload_run_info The run.\n# TYPE dbload_run_info gauge\ndbload_run_info{run_id=\"r\"} 1\n\
             # HELP dbload_x_total Things.\n# TYPE dbload_x_total counter\ndbload_x_total 3\n\
             # HELP dbload_t_seconds Time.\n# TYPE dbload_t_seconds histogram\ndbload_t_seconds_count 1\n"
        );
    }
}
