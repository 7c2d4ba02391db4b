//! `--pushgateway URL`: the final figures of a batch run (the nightly
//! `regress`) pushed to a Prometheus Pushgateway, as batch jobs do, in the
//! classic text format under the grouping key `job="dbload"` and the run id.

/// A push that did not land, or a URL that cannot be pushed to.
#[derive(Debug, thiserror::Error)]
#[error("--pushgateway {url}: {message}")]
pub struct PushError {
    pub url: String,
    pub message: String,
}

/// Check a Pushgateway URL before any load is sent (plain HTTP only).
pub fn check_url(url: &str) -> Result<(), PushError> {
    let fail = |message: &str| PushError {
        url: url.to_string(),
        message: message.to_string(),
    };
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        fail("give an http:// URL, e.g. http://pushgateway:9091 (https is not supported)")
    })?;
    if rest.trim_end_matches('/').is_empty() || rest.contains(char::is_whitespace) {
        return Err(fail("no host in the URL"));
    }
    Ok(())
}

/// Where the metrics of `run_id` go.
pub fn endpoint(url: &str, run_id: &str) -> String {
    format!(
        "{}/metrics/job/dbload/run_id/{run_id}",
        url.trim_end_matches('/')
    )
}

/// Replace the metrics of `run_id` on the Pushgateway at `url` with `text`
/// (classic text format). Blocking: call it off the async runtime.
pub fn push(url: &str, run_id: &str, text: &str) -> Result<(), PushError> {
    check_url(url)?;
    ureq::put(&endpoint(url, run_id))
        .header("Content-Type", super::text::CONTENT_TYPE)
        .send(text)
        .map(|_| ())
        .map_err(|e| PushError {
            url: url.to_string(),
            message: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_grouped_by_run() {
        assert!(check_url("http://127.0.0.1:9091").is_ok());
        let e = check_url("https://pg:9091").unwrap_err().to_string();
        assert!(
            e.starts_with("--pushgateway https://pg:9091: give an http:// URL"),
            "{e}"
        );
        assert!(check_url("http://").is_err());
        assert!(check_url("pushgateway:9091").is_err());
        assert_eq!(
            endpoint("http://pg:9091/", "r1"),
            "http://pg:9091/metrics/job/dbload/run_id/r1"
        );
    }
}
