//! Live metrics against a real Prometheus (the Debian `prometheus` package;
//! `.ci/run` installs it): a Prometheus started here scrapes a dbload run
//! every second; its HTTP API must then agree with the run's own results
//! (completions, p99 within one bucket), every PromQL expression of the
//! Grafana dashboard and of the alert rules must parse and the dashboard's
//! return data, and promtool must accept the rules, their unit tests and
//! the scraped exposition.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{TestDb, dbload, read_results};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A free loopback port (bound and released; races are unlikely here).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Prometheus server, killed when dropped.
struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn get(url: &str) -> Option<String> {
    ureq::get(url).call().ok()?.body_mut().read_to_string().ok()
}

impl Prometheus {
    /// Start one scraping `target` every second, with the repo's alert rules.
    fn start(target: &str) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let rules = repo().join("monitoring/prometheus/alerts.yml");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 rule_files: ['{}']\n\
                 scrape_configs:\n  - job_name: dbload\n    static_configs:\n      - targets: ['{target}']\n",
                rules.display()
            ),
        )
        .unwrap();
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the prometheus server (Debian package prometheus; .ci/run installs it)");
        let p = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        // Ready, and scraping already (its discovery hands targets over
        // only every 5 s): the target's `up` series exists, down for now.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if get(&format!("{}/-/ready", p.url)).is_some() && !p.query("up", now()).1.is_empty() {
                break p;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus did not start scraping"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// An instant query at Unix time `at`: (status, result vector).
    fn query(&self, expr: &str, at: f64) -> (String, Vec<serde_json::Value>) {
        let body = ureq::get(&format!("{}/api/v1/query", self.url))
            .query("query", expr)
            .query("time", format!("{at:.3}"))
            .call();
        let text = match body {
            Ok(mut r) => r.body_mut().read_to_string().unwrap(),
            Err(ureq::Error::StatusCode(code)) => return (format!("http {code}"), vec![]),
            Err(e) => panic!("querying prometheus: {e}"),
        };
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let status = v["status"].as_str().unwrap_or("").to_string();
        let result = v["data"]["result"].as_array().cloned().unwrap_or_default();
        (status, result)
    }

    /// The single value of a query.
    fn value(&self, expr: &str, at: f64) -> f64 {
        let (status, r) = self.query(expr, at);
        assert_eq!(status, "success", "{expr}");
        assert_eq!(r.len(), 1, "{expr}: {r:?}");
        r[0]["value"][1].as_str().unwrap().parse().unwrap()
    }
}

/// Every `expr` string in a JSON document.
fn exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("expr", serde_json::Value::String(s)) => out.push(s.clone()),
                    _ => exprs(x, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| exprs(x, out)),
        _ => {}
    }
}

fn promtool(args: &[&str], dir: &Path, stdin: Option<&str>) -> (bool, String) {
    let mut c = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus)");
    if let Some(s) = stdin {
        use std::io::Write;
        c.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    drop(c.stdin.take());
    let out = c.wait_with_output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn the_rules_and_their_unit_tests_pass_promtool() {
    let dir = repo().join("monitoring/prometheus");
    let (ok, out) = promtool(&["check", "rules", "alerts.yml"], &dir, None);
    assert!(ok, "{out}");
    let (ok, out) = promtool(&["test", "rules", "alerts_test.yml"], &dir, None);
    assert!(ok && out.contains("SUCCESS"), "{out}");
    let (ok, out) = promtool(&["check", "config", "prometheus.yml"], &dir, None);
    assert!(ok, "{out}");
}

const WORKLOAD: &str = "\
-- @workload metrics-test
-- @scenario quick weight=3
SELECT pg_sleep(0.002);
-- @scenario slow weight=1
SELECT pg_sleep(0.008);
-- @scenario failing weight=1
SELECT 1 / 0;
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_sees_what_the_run_measured() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let wl = dir.path().join("m.sql");
    std::fs::write(&wl, WORKLOAD).unwrap();
    let out = dir.path().join("r.json");
    let addr = format!("127.0.0.1:{}", free_port());
    let prom = Prometheus::start(&addr);

    // The run, with the endpoint up 4 s past its end for the last scrapes;
    // its exposition is read (and linted) while it lingers.
    let (url, wl2, out2, addr2) = (
        db.url(),
        wl.display().to_string(),
        out.clone(),
        addr.clone(),
    );
    let run = std::thread::spawn(move || {
        dbload()
            .args(["-d", &url, "stress", "-w", &wl2, "--qps", "150"])
            .args(["--duration", "6s", "--warmup", "0s", "--seed", "3"])
            .args(["--metrics-listen", &addr2, "--metrics-linger", "4s"])
            .args(["--out", out2.to_str().unwrap()])
            .assert()
    });
    let metrics_url = format!("http://{addr}/metrics");
    let mut exposition = None;
    while !run.is_finished() {
        if std::fs::metadata(&out).is_ok() {
            exposition = get(&metrics_url).or(exposition);
            if exposition.is_some() {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let a = run.join().unwrap();
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(
        err.contains("metrics at http://127.0.0.1:"),
        "the endpoint is announced: {err}"
    );
    let r = read_results(&out);
    let run_id = err
        .split("run_id ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .unwrap()
        .to_string();
    let at = now();

    // promtool lints the exposition a plain client gets.
    let exposition = exposition.expect("the endpoint answered while lingering");
    let (ok, lint) = promtool(&["check", "metrics"], &repo(), Some(&exposition));
    assert!(
        ok && lint.trim().is_empty(),
        "promtool check metrics: {lint}"
    );

    // Completed and failed scenarios: what the run counted.
    let sel = format!("run_id=\"{run_id}\"");
    let completed = prom.value(
        &format!("sum(max_over_time(dbload_scenarios_completed_total{{{sel}}}[5m]))"),
        at,
    );
    assert_eq!(completed as u64, r.totals.calls, "completions");
    let failed = prom.value(
        &format!(
            "sum(max_over_time(dbload_scenarios_failed_total{{{sel},sqlstate_class=\"22\"}}[5m]))"
        ),
        at,
    );
    assert_eq!(
        failed as u64, r.totals.errors,
        "division by zero is class 22"
    );
    assert!(
        r.totals.errors > 0 && r.totals.calls > 300,
        "{:?}",
        r.totals
    );

    // p99 from the summed buckets lands within one bucket of the run's own.
    let p99 = prom.value(
        &format!(
            "histogram_quantile(0.99, sum by (le) (max_over_time(dbload_scenario_latency_seconds_bucket{{{sel}}}[5m])))"
        ),
        at,
    );
    let bounds = dbload::metrics::buckets::bounds();
    let bucket = |secs: f64| {
        bounds
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(bounds.len())
    };
    let own = r.totals.latency.total.p99_us as f64 / 1e6;
    let (i, j) = (bucket(p99), bucket(own));
    assert!(
        i.abs_diff(j) <= 1,
        "Prometheus p99 {p99} s (bucket {i}) vs the run's {own} s (bucket {j})"
    );

    // Every dashboard expression parses and returns data at the run's end
    // (Grafana's variables replaced as it would); alert expressions parse.
    let dash: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("monitoring/grafana/dbload.json")).unwrap(),
    )
    .unwrap();
    let mut found = Vec::new();
    exprs(&dash["panels"], &mut found);
    assert!(found.len() >= 20, "{found:?}");
    let grafana = |e: &str| {
        e.replace("$run_id", &run_id)
            .replace("$scenario", ".*")
            .replace("$__rate_interval", "30s")
    };
    let during = at - 6.0; // inside the run: rates over the last 30 s have data
    for e in &found {
        let (status, result) = prom.query(&grafana(e), during);
        assert_eq!(
            status, "success",
            "dashboard expression does not parse: {e}"
        );
        assert!(
            !result.is_empty(),
            "dashboard expression returns no data: {e}"
        );
    }
    let mut annotations = Vec::new();
    exprs(&dash["annotations"], &mut annotations);
    let rules = std::fs::read_to_string(repo().join("monitoring/prometheus/alerts.yml")).unwrap();
    let rules: Vec<&str> = rules
        .split("expr: >-\n")
        .skip(1)
        .map(|s| s.split("\n        for:").next().unwrap())
        .chain(
            rules
                .lines()
                .filter_map(|l| l.trim().strip_prefix("expr: "))
                .filter(|e| *e != ">-"),
        )
        .collect();
    assert_eq!(rules.len(), 4, "{rules:?}");
    for e in annotations
        .iter()
        .map(|e| grafana(e))
        .chain(rules.iter().map(|e| e.to_string()))
    {
        let (status, _) = prom.query(&e, during);
        assert_eq!(status, "success", "expression does not parse: {e}");
    }
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A Pushgateway (Debian package prometheus-pushgateway), killed when dropped.
struct Pushgateway {
    child: Child,
    url: String,
}

impl Drop for Pushgateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regress_pushes_its_final_figures_to_a_pushgateway() {
    let port = free_port();
    let gw = Pushgateway {
        child: Command::new("prometheus-pushgateway")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-pushgateway (Debian package; .ci/run installs it)"),
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(&format!("{}/-/ready", gw.url)).is_none() {
        assert!(
            Instant::now() < deadline,
            "the pushgateway did not get ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.sql"), WORKLOAD).unwrap();
    let suite = dir.path().join("nightly.toml");
    std::fs::write(
        &suite,
        "[[run]]\nname = \"one\"\nworkload = \"m.sql\"\nqps = 100\nduration = \"2s\"\nwarmup = \"0s\"\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let (url, suite, out2, gw_url) = (
        db.url(),
        suite.display().to_string(),
        out.display().to_string(),
        gw.url.clone(),
    );
    let a = tokio::task::spawn_blocking(move || {
        dbload()
            .args(["-d", &url, "regress", "--suite", &suite, "--out", &out2])
            .args(["--pushgateway", &gw_url])
            .assert()
    })
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(err.contains("pushed the final metrics"), "{err}");
    let night: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("regress.json")).unwrap()).unwrap();
    let calls = night["runs"][0]["results"]["totals"]["calls"]
        .as_u64()
        .unwrap();
    assert!(calls > 0);
    // The gateway holds the night's completions, grouped under job "dbload".
    let text = get(&format!("{}/metrics", gw.url)).unwrap();
    let pushed: u64 = text
        .lines()
        .filter(|l| {
            l.starts_with("dbload_scenarios_completed_total{") && l.contains("job=\"dbload\"")
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap() as u64)
        .sum();
    assert_eq!(pushed, calls, "{text}");
    // A URL dbload cannot push to is refused before any load.
    let url = db.url();
    let a = tokio::task::spawn_blocking(move || {
        dbload()
            .args(["-d", &url, "stress", "--qps", "10", "--force"])
            .args(["--pushgateway", "https://gw:9091"])
            .assert()
            .code(2)
    })
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(
        err.contains("--pushgateway https://gw:9091: give an http:// URL"),
        "{err}"
    );
}
