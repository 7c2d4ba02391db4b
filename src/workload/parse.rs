//! Reading a workload file: `-- @` directives (workload, sample, scenario,
//! param, name, bind) around plain SQL statements. Every mistake is
//! reported as `file:line: message`; all mistakes of a file are collected.

use sha2::{Digest, Sha256};

use super::generators::parse_generator;
use super::sql::Splitter;
use super::{ParamDef, SampleDef, Scenario, Statement, Workload};

/// One mistake in a workload file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}:{line}: {message}")]
pub struct ParseError {
    pub path: String,
    pub line: usize,
    pub message: String,
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
fn valid_var(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

struct Builder {
    path: String,
    errors: Vec<ParseError>,
    samples: Vec<SampleDef>,
    scenarios: Vec<Scenario>,
    name: Option<String>,
    // Pending per-statement directives.
    next_name: Option<(String, usize)>,
    next_binds: Vec<(String, String, usize)>,
    splitter: Splitter,
}

impl Builder {
    fn err(&mut self, line: usize, message: impl Into<String>) {
        self.errors.push(ParseError {
            path: self.path.clone(),
            line,
            message: message.into(),
        });
    }

    fn slot(sc: &mut Scenario, var: &str) -> usize {
        match sc.vars.iter().position(|v| v == var) {
            Some(i) => i,
            None => {
                sc.vars.push(var.to_string());
                sc.vars.len() - 1
            }
        }
    }

    /// Close the pending per-statement directives at the end of a scenario.
    fn end_scenario(&mut self, end_line: usize) {
        if let Some(line) = self.splitter.pending_line() {
            self.err(line, "statement not terminated by ';'");
            self.splitter = Splitter::new();
        }
        if let Some((_, line)) = self.next_name.take() {
            self.err(line, "@name is not followed by a statement");
        }
        if let Some((_, _, line)) = self.next_binds.first().cloned() {
            self.err(line, "@bind is not followed by a statement");
            self.next_binds.clear();
        }
        if let Some(sc) = self.scenarios.last()
            && sc.statements.is_empty()
        {
            let (l, n) = (sc.line, sc.name.clone());
            self.err(l, format!("scenario {n} has no SQL statement"));
        }
        let _ = end_line;
    }

    fn directive(&mut self, d: &str, line: usize) {
        let (kw, rest) = d.split_once(char::is_whitespace).unwrap_or((d, ""));
        let rest = rest.trim();
        if self.splitter.in_statement() {
            self.err(
                line,
                format!("@{kw} inside an unterminated statement (missing ';' above?)"),
            );
            return;
        }
        match kw {
            "workload" => {
                if !self.scenarios.is_empty() {
                    self.err(line, "@workload must come before the first @scenario");
                } else if rest.is_empty() {
                    self.err(line, "@workload needs a name");
                } else {
                    self.name = Some(rest.to_string());
                }
            }
            "sample" => {
                if !self.scenarios.is_empty() {
                    return self.err(line, "@sample must come before the first @scenario");
                }
                let Some((name, sql)) = rest.split_once('=') else {
                    return self.err(line, "expected `-- @sample NAME = SELECT …`");
                };
                let (name, sql) = (name.trim(), sql.trim().trim_end_matches(';').trim());
                if !valid_var(name) {
                    return self.err(line, format!("bad sample name {name:?}"));
                }
                if sql.is_empty() {
                    return self.err(line, format!("sample {name} has no query"));
                }
                if self.samples.iter().any(|s| s.name == name) {
                    return self.err(line, format!("sample {name} defined twice"));
                }
                match super::sql::first_keyword(sql) {
                    Some(k) if super::sql::QUERY_KEYWORDS.contains(&k.as_str()) => {}
                    k => {
                        return self.err(
                            line,
                            format!(
                                "sample {name} is not a plain query (it starts with {}): samples are \
                                 read at start-up and must not change data; write SELECT, WITH, VALUES or TABLE",
                                k.unwrap_or_else(|| "no keyword".into())
                            ),
                        );
                    }
                }
                self.samples.push(SampleDef {
                    name: name.into(),
                    sql: sql.into(),
                    line,
                });
            }
            "scenario" => {
                if !self.scenarios.is_empty() {
                    self.end_scenario(line);
                }
                let mut parts = rest.split_whitespace();
                let name = parts.next().unwrap_or("");
                if !valid_name(name) {
                    self.err(
                        line,
                        format!("bad scenario name {name:?} (letters, digits, _ and - only)"),
                    );
                }
                if self.scenarios.iter().any(|s| s.name == name) {
                    self.err(line, format!("scenario {name} defined twice"));
                }
                let mut weight = 1.0;
                let mut transaction = false;
                for p in parts {
                    if let Some(w) = p.strip_prefix("weight=") {
                        match w.parse::<f64>() {
                            Ok(x) if x.is_finite() && x > 0.0 => weight = x,
                            _ => self.err(
                                line,
                                format!("bad weight {w:?}: must be a positive number"),
                            ),
                        }
                    } else if p == "transaction" {
                        transaction = true;
                    } else {
                        self.err(
                            line,
                            format!(
                                "unknown scenario option {p:?} (expected weight=N or transaction)"
                            ),
                        );
                    }
                }
                self.scenarios.push(Scenario {
                    name: name.into(),
                    weight,
                    transaction,
                    line,
                    vars: Vec::new(),
                    params: Vec::new(),
                    statements: Vec::new(),
                });
            }
            "param" | "name" | "bind" if self.scenarios.is_empty() => {
                self.err(line, format!("@{kw} outside a scenario (add `-- @scenario NAME` above)"))
            }
            "param" => {
                let Some((lhs, spec)) = rest.split_once('=') else {
                    return self.err(line, "expected `-- @param NAME = generator(args)`");
                };
                let names: Vec<&str> = lhs.split(',').map(str::trim).collect();
                if let Some(bad) = names.iter().find(|n| !valid_var(n)) {
                    return self.err(line, format!("bad variable name {bad:?}"));
                }
                let samples = &self.samples;
                let sc = self.scenarios.last_mut().unwrap();
                let vars = sc.vars.clone();
                let parsed = parse_generator(
                    spec,
                    &|v| vars.iter().position(|x| x == v),
                    &|s| samples.iter().position(|x| x.name == s),
                );
                match parsed {
                    Ok(g) => {
                        if names.len() > 1 && !g.multi() {
                            return self.err(
                                line,
                                "only pick() assigns several variables".to_string(),
                            );
                        }
                        let slots = names.iter().map(|n| Self::slot(sc, n)).collect();
                        sc.params.push(ParamDef {
                            slots,
                            generator: g,
                            line,
                        });
                    }
                    Err(e) => {
                        // Define the names anyway so one mistake is reported once.
                        let slots = names.iter().map(|n| Self::slot(sc, n)).collect();
                        sc.params.push(ParamDef {
                            slots,
                            generator: super::Generator::Const(super::Value::Null),
                            line,
                        });
                        self.err(line, e)
                    }
                }
            }
            "name" => {
                if !valid_name(rest) {
                    return self.err(line, format!("bad statement name {rest:?}"));
                }
                self.next_name = Some((rest.to_string(), line));
            }
            "bind" => {
                if rest.is_empty() {
                    return self.err(line, "expected `-- @bind var = column[, …]`");
                }
                for item in rest.split(',') {
                    let (var, col) = match item.split_once('=') {
                        Some((v, c)) => (v.trim(), c.trim()),
                        None => (item.trim(), item.trim()),
                    };
                    if !valid_var(var) || col.is_empty() {
                        self.err(line, format!("bad binding {:?}", item.trim()));
                        continue;
                    }
                    self.next_binds.push((var.into(), col.into(), line));
                }
            }
            other => self.err(
                line,
                format!(
                    "unknown directive @{other} (known: workload, sample, scenario, param, name, bind)"
                ),
            ),
        }
    }

    fn sql_line(&mut self, text: &str, line: usize) {
        let stmts = self.splitter.feed_line(text, line);
        if self.scenarios.is_empty() {
            if self.splitter.in_statement() || !stmts.is_empty() {
                self.err(line, "SQL before the first `-- @scenario NAME`");
                self.splitter = Splitter::new();
            }
            return;
        }
        for raw in stmts {
            let sc = self.scenarios.last_mut().unwrap();
            let mut params = Vec::new();
            let mut errs = Vec::new();
            for (var, l) in &raw.placeholders {
                match sc.vars.iter().position(|v| v == var) {
                    Some(s) if Self::defined_before(sc, s) => params.push(s),
                    _ => errs.push((
                        *l,
                        format!(
                            "undefined variable :{var} in scenario {} (define it with @param or @bind before this statement)",
                            sc.name
                        ),
                    )),
                }
            }
            let idx = sc.statements.len() + 1;
            let name = self
                .next_name
                .take()
                .map(|(n, _)| n)
                .unwrap_or_else(|| format!("{}.{idx}", sc.name));
            let mut binds = Vec::new();
            for (var, col, _) in self.next_binds.drain(..) {
                let s = Self::slot(sc, &var);
                binds.push((col, s));
            }
            sc.statements.push(Statement {
                name,
                source: raw.source,
                sql: raw.sql,
                params,
                binds,
                line: raw.line,
            });
            // Slots defined so far: params + binds of earlier statements.
            for (l, m) in errs {
                self.err(l, m);
            }
        }
    }

    /// A slot is usable if a param assigns it or an earlier statement binds it.
    fn defined_before(sc: &Scenario, slot: usize) -> bool {
        sc.params.iter().any(|p| p.slots.contains(&slot))
            || sc
                .statements
                .iter()
                .any(|st| st.binds.iter().any(|(_, s)| *s == slot))
    }
}

/// Parse a workload file's text; `path` is used in messages.
pub fn parse(path: &str, text: &str) -> Result<Workload, Vec<ParseError>> {
    let mut b = Builder {
        path: path.to_string(),
        errors: Vec::new(),
        samples: Vec::new(),
        scenarios: Vec::new(),
        name: None,
        next_name: None,
        next_binds: Vec::new(),
        splitter: Splitter::new(),
    };
    let mut last = 0;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        last = line;
        let t = raw.trim();
        if !b.splitter.in_statement() && t.starts_with('\\') {
            continue; // psql meta-command (e.g. \set for running the file by hand)
        }
        if let Some(d) = t.strip_prefix("--").map(str::trim_start)
            && let Some(d) = d.strip_prefix('@')
        {
            b.directive(d.trim(), line);
            continue;
        }
        b.sql_line(raw, line);
    }
    if b.scenarios.is_empty() {
        b.err(
            last.max(1),
            "no scenario (add `-- @scenario NAME weight=N` before the SQL)",
        );
    } else {
        b.end_scenario(last);
    }
    if !b.errors.is_empty() {
        b.errors.sort_by_key(|e| e.line);
        return Err(b.errors);
    }
    let name = b.name.unwrap_or_else(|| {
        std::path::Path::new(path)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.to_string())
    });
    let max_slots = b.scenarios.iter().map(|s| s.vars.len()).max().unwrap_or(0);
    Ok(Workload {
        name,
        path: path.to_string(),
        sha256: hex::encode(Sha256::digest(text.as_bytes())),
        samples: b.samples,
        scenarios: b.scenarios,
        max_slots,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
-- @workload demo
-- @sample users = SELECT id, email FROM users LIMIT 100
\\set clinic 1

-- @scenario lookup weight=3
-- @param c = int(1, 10)
-- @param uid, mail = pick(users)
SELECT * FROM pets WHERE clinic_id = :c
  AND owner_id = :uid;

-- @scenario checkout weight=1 transaction
-- @param c = clinic()
-- @bind total = sum
SELECT sum(price_cents) FROM services WHERE clinic_id = :c;
-- @name add_invoice
INSERT INTO t VALUES (:c, :total);
";

    #[test]
    fn the_readme_example_workload_parses() {
        let readme = include_str!("../../README.md");
        let start = readme
            .find("-- @workload shop-demo")
            .expect("README example");
        let end = start + readme[start..].find("```").expect("end of the example");
        let w = parse("README.md", &readme[start..end]).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(w.name, "shop-demo");
        assert!(w.scenarios.len() >= 3);
    }

    #[test]
    fn parses_a_good_file() {
        let w = parse("q.sql", GOOD).unwrap();
        assert_eq!(w.name, "demo");
        assert_eq!(w.samples[0].name, "users");
        assert_eq!(w.scenarios.len(), 2);
        let l = &w.scenarios[0];
        assert_eq!(
            (l.name.as_str(), l.weight, l.transaction),
            ("lookup", 3.0, false)
        );
        assert_eq!(
            l.statements[0].sql,
            "SELECT * FROM pets WHERE clinic_id = $1\n  AND owner_id = $2"
        );
        assert_eq!(l.statements[0].line, 8);
        assert_eq!(l.statements[0].params, vec![0, 1]);
        let c = &w.scenarios[1];
        assert!(c.transaction);
        assert_eq!(c.statements[0].binds, vec![("sum".to_string(), 1)]);
        assert_eq!(c.statements[1].name, "add_invoice");
        assert_eq!(c.statements[0].name, "checkout.1");
        assert_eq!(c.statements[1].params, vec![0, 1]);
    }

    fn errs(text: &str) -> Vec<String> {
        parse("w.sql", text)
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn every_mistake_names_file_and_line() {
        let e = errs("-- @scenario a weight=x\nSELECT 1;\n");
        assert_eq!(
            e,
            vec!["w.sql:1: bad weight \"x\": must be a positive number"]
        );

        let e = errs("-- @scenario a\n-- @param x = bogus(1)\nSELECT :x;\n");
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("w.sql:2: unknown generator bogus()"),
            "{e:?}"
        );

        let e = errs("-- @scenario a\nSELECT 1\n  WHERE y = :y;\n");
        assert!(
            e[0].starts_with("w.sql:3: undefined variable :y in scenario a"),
            "{e:?}"
        );

        let e = errs("-- @scenario a\n-- @prams x = int(1,2)\nSELECT 1;\n");
        assert!(
            e[0].starts_with("w.sql:2: unknown directive @prams"),
            "{e:?}"
        );

        let e = errs("-- @scenario a\n-- @param x = int(1, 2\nSELECT 1;\n");
        assert!(e[0].starts_with("w.sql:2: missing ')'"), "{e:?}");

        let e = errs("-- @scenario a weight=-2\n");
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].starts_with("w.sql:1: bad weight"));
        assert!(e[1].starts_with("w.sql:1: scenario a has no SQL"));

        let e = errs("SELECT 1;\n");
        assert!(e[0].starts_with("w.sql:1: SQL before the first"), "{e:?}");

        let e = errs("-- @scenario a\nSELECT 1\n-- @scenario b\nSELECT 2;\n");
        assert!(
            e[0].starts_with("w.sql:3: @scenario inside an unterminated statement"),
            "{e:?}"
        );
    }

    #[test]
    fn a_sample_that_is_not_a_plain_query_is_refused() {
        let e = errs("-- @sample s = DELETE FROM pets RETURNING id\n-- @scenario a\nSELECT 1;\n");
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("w.sql:1: sample s is not a plain query (it starts with DELETE)"),
            "{e:?}"
        );
        for ok in [
            "select 1",
            "(SELECT 1)",
            "WITH a AS (SELECT 1) TABLE a",
            "VALUES (1)",
        ] {
            let text = format!("-- @sample s = {ok}\n-- @scenario a\nSELECT 1;\n");
            assert!(parse("w.sql", &text).is_ok(), "{ok}");
        }
    }

    #[test]
    fn a_bound_variable_is_only_visible_to_later_statements() {
        let e = errs("-- @scenario a\nSELECT :id;\n-- @bind id\nSELECT 1 AS id;\n");
        assert!(e[0].starts_with("w.sql:2: undefined variable :id"), "{e:?}");
        assert!(
            parse(
                "w.sql",
                "-- @scenario a\n-- @bind id\nSELECT 1 AS id;\nSELECT :id;\n"
            )
            .is_ok()
        );
    }
}
