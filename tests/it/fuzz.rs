//! Property tests of the parsers that read what users hand us: arbitrary
//! text (and the default workload, mutated) never panics, and faults are
//! named where they are. `PROPTEST_CASES` sets the cases per property
//! (default 256, a few seconds in all); for a longer run:
//! `PROPTEST_CASES=100000 cargo test --release --test it fuzz`.

use proptest::prelude::*;

use dbload::db::Target;
use dbload::db::sql_lex;
use dbload::input::{self, Limit};
use dbload::regress::model::ResultsFile;
use dbload::workload::{self, DEFAULT_WORKLOAD};

const LIMIT: Limit = Limit {
    bytes: 4096,
    what: "fuzz input",
};

/// Text made of SQL's and the workload format's meaningful pieces, so that
/// quotes, comments, dollar quotes and directives meet in every order.
fn sqlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("'".to_string()),
        Just("\"".to_string()),
        Just("$$".to_string()),
        Just("$a$".to_string()),
        Just("--".to_string()),
        Just("/*".to_string()),
        Just("*/".to_string()),
        Just(";".to_string()),
        Just("\n".to_string()),
        Just("E'\\'".to_string()),
        Just(":x".to_string()),
        Just(":'y'".to_string()),
        Just("::int".to_string()),
        Just("-- @scenario s weight=2\n".to_string()),
        Just("-- @param x = int(1, 9)\n".to_string()),
        Just("-- @sample t = SELECT 1\n".to_string()),
        Just("-- @bind x\n".to_string()),
        Just("SELECT ".to_string()),
        "[ -~é€]{0,6}",
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

/// The default workload with a few lines deleted, duplicated or cut.
fn mutated_workload() -> impl Strategy<Value = String> {
    let lines: Vec<&'static str> = DEFAULT_WORKLOAD.lines().collect();
    let n = lines.len();
    proptest::collection::vec((0..n, 0..3u8, 0..80usize), 1..6).prop_map(move |edits| {
        let mut v: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        for (i, op, cut) in edits {
            let i = i % v.len().max(1);
            match op {
                0 if !v.is_empty() => {
                    v.remove(i);
                }
                1 if !v.is_empty() => {
                    let l = v[i].clone();
                    v.insert(i, l);
                }
                _ if !v.is_empty() => {
                    let l = &v[i];
                    let at = l.char_indices().nth(cut).map_or(l.len(), |(k, _)| k);
                    v[i] = l[..at].to_string();
                }
                _ => {}
            }
        }
        v.join("\n")
    })
}

fn check_workload(text: &str) {
    let lines = text.lines().count().max(1);
    if let Err(errs) = workload::parse("f.sql", text) {
        assert!(!errs.is_empty());
        for e in errs {
            assert_eq!(e.path, "f.sql");
            assert!(
                (1..=lines + 1).contains(&e.line),
                "line {} of {lines}: {}",
                e.line,
                e.message
            );
        }
    }
}

proptest! {
    #[test]
    fn the_workload_parser_names_a_line_of_the_file(text in sqlish()) {
        check_workload(&text);
    }

    #[test]
    fn a_mutated_default_workload_parses_or_names_a_line(text in mutated_workload()) {
        check_workload(&text);
    }

    #[test]
    fn statements_are_in_order_within_the_text(text in sqlish()) {
        let mut end = 0;
        for r in sql_lex::statements(&text) {
            prop_assert!(r.start >= end && r.start <= r.end && r.end <= text.len());
            prop_assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
            end = r.end;
        }
        let _ = workload::sql::split(&text);
    }

    #[test]
    fn a_connection_target_parses_or_is_refused(s in "\\PC{0,60}", t in "(postgres(ql)?://)?[a-z:@/?=&%.\\[\\]0-9 ]{0,40}") {
        for text in [s.as_str(), t.as_str()] {
            if let Ok(target) = Target::parse(text) {
                // Never a password in what is shown.
                let shown = target.to_string();
                if let Some(pw) = target.password.as_deref().filter(|p| p.len() > 2) {
                    prop_assert!(!shown.contains(pw), "{shown}");
                }
            }
        }
    }

    #[test]
    fn text_is_accepted_exactly_when_it_is_utf8_without_nul_within_the_limit(
        bytes in proptest::collection::vec(any::<u8>(), 0..6000)
    ) {
        let ok = bytes.len() as u64 <= LIMIT.bytes
            && !bytes.contains(&0)
            && std::str::from_utf8(&bytes).is_ok();
        let r = input::text::read_from(&bytes[..], "f", LIMIT);
        prop_assert_eq!(r.is_ok(), ok, "{:?}", r.err());
    }

    #[test]
    fn a_results_file_of_anything_is_refused_with_its_position(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        text in "[{}\\[\\],:\" 0-9a-z\n]{0,200}"
    ) {
        for b in [bytes.as_slice(), text.as_bytes()] {
            if let Err(e) = input::json::read_tagged_from::<ResultsFile>(b, "r.json", LIMIT) {
                prop_assert!(e.to_string().starts_with("r.json"), "{e}");
            }
        }
    }
}
