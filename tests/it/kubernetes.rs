//! The Indexed Job of deploy/k8s/job.yaml, simulated on this machine
//! (issue 17): its pods are local processes started with the manifest's own
//! container arguments and environment — `$(VAR)` expanded as Kubernetes
//! does, `JOB_COMPLETION_INDEX` = 0..N-1, `DATABASE_URL` from the "Secret"
//! (the test database), the ConfigMap's workload mounted where the manifest
//! mounts it (a temporary directory), stdout collected as `kubectl logs`
//! would (stdout and stderr together). Only the load's size (`--qps`, `--duration`, `--warmup`) is scaled
//! down for a test. Then `dbload merge` of the pods' results is checked
//! against one process running the whole schedule.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::common::{seeded, stderr_of};

const MANIFEST: &str = include_str!("../../deploy/k8s/job.yaml");

/// The Job's pod template as the test needs it.
struct PodSpec {
    pods: usize,
    args: Vec<String>,
    /// Environment: literal values, or where Kubernetes takes them from.
    env: Vec<(String, EnvSource)>,
    /// mountPath → ConfigMap name.
    config_maps: Vec<(String, String)>,
}

#[derive(Debug, PartialEq)]
enum EnvSource {
    Value(String),
    Secret(String, String),
    Field(String),
}

fn job() -> PodSpec {
    let doc: Value = serde_norway::from_str(MANIFEST).expect("deploy/k8s/job.yaml is YAML");
    assert_eq!(doc["kind"], "Job");
    let spec = &doc["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let pods = spec["completions"].as_u64().expect("completions") as usize;
    assert_eq!(
        spec["parallelism"].as_u64(),
        Some(pods as u64),
        "parallelism = completions"
    );
    let pod = &spec["template"]["spec"];
    let containers = pod["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    let args: Vec<String> = c["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("string arg").to_string())
        .collect();
    let env = c["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| {
            let name = e["name"].as_str().unwrap().to_string();
            let src = if let Some(v) = e["value"].as_str() {
                EnvSource::Value(v.into())
            } else if let Some(s) = e["valueFrom"].get("secretKeyRef") {
                EnvSource::Secret(
                    s["name"].as_str().unwrap().into(),
                    s["key"].as_str().unwrap().into(),
                )
            } else {
                let f = &e["valueFrom"]["fieldRef"]["fieldPath"];
                EnvSource::Field(f.as_str().expect("fieldRef").into())
            };
            (name, src)
        })
        .collect();
    let volumes: BTreeMap<String, String> = pod["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .filter_map(|v| {
            Some((
                v["name"].as_str()?.to_string(),
                v["configMap"]["name"].as_str()?.to_string(),
            ))
        })
        .collect();
    let config_maps = c["volumeMounts"]
        .as_array()
        .expect("volumeMounts")
        .iter()
        .filter_map(|m| {
            let cm = volumes.get(m["name"].as_str()?)?;
            Some((m["mountPath"].as_str()?.to_string(), cm.clone()))
        })
        .collect();
    PodSpec {
        pods,
        args,
        env,
        config_maps,
    }
}

/// `$(VAR)` replaced by VAR's value where it is defined, `$$` by `$`, as the
/// kubelet expands container arguments.
fn expand(arg: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(t) = tail.strip_prefix("$$") {
            out.push('$');
            rest = t;
        } else if let Some((name, after)) = tail
            .strip_prefix("$(")
            .and_then(|t| t.split_once(')'))
            .filter(|(n, _)| env.contains_key(*n))
        {
            out.push_str(&env[name]);
            rest = after;
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// `--flag=value` or `--flag value` replaced (the test's smaller load).
fn set_flag(args: &mut [String], flag: &str, value: &str) {
    let i = args
        .iter()
        .position(|a| a == flag || a.starts_with(&format!("{flag}=")))
        .unwrap_or_else(|| panic!("the manifest has no {flag}"));
    if args[i] == flag {
        args[i + 1] = value.into();
    } else {
        args[i] = format!("{flag}={value}");
    }
}

/// The value of `--flag=value` / `--flag value` in `args`.
fn flag<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let i = args
        .iter()
        .position(|a| a == flag || a.starts_with(&format!("{flag}=")))?;
    match args[i].split_once('=') {
        Some((_, v)) => Some(v),
        None => args.get(i + 1).map(String::as_str),
    }
}

/// The pod of index `k`: the manifest's arguments and environment with the
/// Secret, the downward API fields and the ConfigMap mount made local.
fn pod(
    spec: &PodSpec,
    args: &[String],
    k: usize,
    url: &str,
    run_id: &str,
    mounts: &[(String, PathBuf)],
) -> Command {
    let mut env = BTreeMap::new();
    for (name, src) in &spec.env {
        let v = match src {
            EnvSource::Value(v) => v.clone(),
            EnvSource::Secret(s, key) => {
                assert_eq!(
                    (s.as_str(), key.as_str()),
                    ("dbload-target", "url"),
                    "{name}"
                );
                url.to_string()
            }
            EnvSource::Field(f) if f.contains("job-completion-index") => k.to_string(),
            EnvSource::Field(f) if f.contains("controller-uid") => run_id.to_string(),
            EnvSource::Field(f) => panic!("no simulation for fieldRef {f}"),
        };
        env.insert(name.clone(), v);
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dbload"));
    for a in args {
        let mut a = expand(a, &env);
        for (mount, local) in mounts {
            a = a.replace(mount.as_str(), &local.display().to_string());
        }
        cmd.arg(a);
    }
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .envs(&env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// A pod's log, as the file `dbload merge` reads.
fn collect(child: Child, what: &str, dir: &Path) -> PathBuf {
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // 3: the run is invalid (a busy machine may drop an arrival) — its
    // counts are still exact, which is what this test checks.
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "{what}: {:?}\n{err}",
        out.status
    );
    // What `kubectl logs` gives: the container's stdout and stderr in one
    // stream. With --quiet and --format json it is the results file alone.
    let path = dir.join(format!("{what}.json"));
    std::fs::write(&path, [out.stdout, out.stderr].concat()).unwrap();
    path
}

fn totals(path: &Path) -> Value {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["totals"].clone()
}

#[test]
fn manifest_and_segments_agree() {
    let spec = job();
    let segments: usize = flag(&spec.args, "--segments")
        .expect("--segments in the manifest")
        .parse()
        .unwrap();
    assert_eq!(segments, spec.pods, "--segments = completions");
    assert_eq!(spec.args[0], "stress");
    assert_eq!(
        spec.config_maps,
        vec![("/etc/dbload".to_string(), "dbload-workload".to_string())]
    );
    assert_eq!(
        flag(&spec.args, "--workload"),
        Some("/etc/dbload/workload.sql")
    );
    assert_eq!(
        expand(
            "a$(X)b$$(X)$(Y)",
            &BTreeMap::from([("X".into(), "1".into())])
        ),
        "a1b$(X)$(Y)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_indexed_job_as_local_pods_merges_to_the_one_process_run() {
    let db = seeded().await;
    let spec = job();
    let dir = tempfile::tempdir().unwrap();
    let workload_dir = dir.path().join("configmap");
    std::fs::create_dir_all(&workload_dir).unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/queries/vetclinic.sql"),
        workload_dir.join("workload.sql"),
    )
    .unwrap();
    let mounts = vec![("/etc/dbload".to_string(), workload_dir.clone())];
    let mut args = spec.args.clone();
    set_flag(&mut args, "--qps", "300");
    set_flag(&mut args, "--duration", "3s");
    set_flag(&mut args, "--warmup", "1s");
    let run_id = uuid::Uuid::new_v4().to_string();

    // The pods start a little apart, as a Job's pods do; they meet in the
    // database and start together.
    let mut pods = Vec::new();
    for k in 0..spec.pods {
        pods.push(
            pod(&spec, &args, k, &db.url(), &run_id, &mounts)
                .spawn()
                .unwrap(),
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let workers: Vec<PathBuf> = pods
        .into_iter()
        .enumerate()
        .map(|(k, c)| collect(c, &format!("worker-{k}"), dir.path()))
        .collect();

    // One process, the same arguments without the segmenting ones.
    let single_args: Vec<String> = args
        .iter()
        .filter(|a| {
            ![
                "--segments",
                "--rendezvous",
                "--rendezvous-timeout",
                "--run-id",
            ]
            .iter()
            .any(|f| a.as_str() == *f || a.starts_with(&format!("{f}=")))
        })
        .cloned()
        .collect();
    let single = pod(&spec, &single_args, 0, &db.url(), &run_id, &mounts)
        .spawn()
        .unwrap();
    let single = collect(single, "single", dir.path());

    let merged = dir.path().join("merged.json");
    let out = Command::new(env!("CARGO_BIN_EXE_dbload"))
        .arg("merge")
        .args(&workers)
        .arg("--out")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (m, s) = (totals(&merged), totals(&single));
    eprintln!(
        "pods scheduled {:?}, merged {}, one process {}",
        workers
            .iter()
            .map(|w| totals(w)["scheduled"].clone())
            .collect::<Vec<_>>(),
        m["scheduled"],
        s["scheduled"]
    );
    // One schedule split by arrival index: the same arrivals exactly.
    assert_eq!(m["scheduled"], s["scheduled"], "merged {m}\nsingle {s}");
    let sum = |key: &str| -> u64 {
        workers
            .iter()
            .map(|w| totals(w)[key].as_u64().unwrap())
            .sum()
    };
    for key in ["scheduled", "started", "calls", "errors", "dropped"] {
        assert_eq!(m[key].as_u64(), Some(sum(key)), "{key}");
    }
    // No unique-key violation among the pods' inserts.
    for w in workers.iter().chain([&merged]) {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(w).unwrap()).unwrap();
        for sc in v["scenarios"].as_array().unwrap() {
            assert!(
                sc["errors_by_class"].get("23").is_none(),
                "{}: {} {}",
                w.display(),
                sc["name"],
                sc["errors_by_class"]
            );
        }
    }

    // Missing and duplicated segments are refused.
    for (files, word) in [
        (vec![&workers[0], &workers[1]], "missing"),
        (
            vec![&workers[0], &workers[0], &workers[1], &workers[2]],
            "twice",
        ),
    ] {
        let mut cmd = crate::common::dbload();
        cmd.arg("merge")
            .args(files)
            .arg("--out")
            .arg(dir.path().join("x.json"));
        let err = stderr_of(&cmd.assert().code(2));
        assert!(err.contains(word), "{word}: {err}");
    }
}
