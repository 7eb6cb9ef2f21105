//! Golden files: each `tests/fixtures/<channel>/<case>.json` is a raw provider
//! payload, and `<case>.expected.json` beside it is what the channel's parser
//! makes of it, as JSON. A change in parsing shows up as a diff to review.
//!
//! `ACCUEIL_BLESS=1 cargo test --test golden` (re)writes the expected files.
//! Read each rewritten file before keeping it: a blessed file only records
//! what the code does, not what it should do.

use std::fs;
use std::path::{Path, PathBuf};

use accueil_core::channels::whatsapp::payload::{parse, Parsed};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// The channels that have a fixtures folder. A new one needs a folder, an
/// entry here and an arm in `parse_case`.
const CHANNELS: &[&str] = &["whatsapp"];

const EXPECTED_SUFFIX: &str = ".expected.json";

/// Every case is parsed as if it arrived at this instant, so fallbacks are stable.
fn arrived_at() -> DateTime<Utc> {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

fn parse_case(channel: &str, bytes: &[u8]) -> Value {
    match channel {
        "whatsapp" => {
            let parsed: Result<Parsed, _> = parse(bytes, arrived_at());
            match parsed {
                Ok(parsed) => serde_json::to_value(&parsed).unwrap(),
                Err(e) => json!({ "error": e.to_string() }),
            }
        }
        other => panic!("no parser for fixtures folder {other}"),
    }
}

#[test]
fn fixtures_parse_as_expected() {
    let bless = std::env::var_os("ACCUEIL_BLESS").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    for channel in CHANNELS {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(channel);
        let (inputs, orphans) = cases(&dir);
        assert!(!inputs.is_empty(), "no cases in {}", dir.display());
        for orphan in orphans {
            failures.push(format!(
                "{}: expected file without an input",
                orphan.display()
            ));
        }
        for input in inputs {
            if let Some(failure) = check(channel, &input, bless) {
                failures.push(failure);
            }
        }
    }
    assert!(failures.is_empty(), "\n{}\n", failures.join("\n\n"));
}

/// The inputs of a folder, sorted, and the expected files that have no input.
fn cases(dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut inputs = Vec::new();
    let mut orphans = Vec::new();
    let entries =
        fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(case) = name.strip_suffix(EXPECTED_SUFFIX) {
            if !dir.join(format!("{case}.json")).exists() {
                orphans.push(path);
            }
        } else if name.ends_with(".json") {
            inputs.push(path);
        }
    }
    inputs.sort();
    orphans.sort();
    (inputs, orphans)
}

/// Compares one case, or rewrites its expected file when blessing.
fn check(channel: &str, input: &Path, bless: bool) -> Option<String> {
    let case = input.file_stem().unwrap().to_string_lossy();
    let name = format!("{channel}/{case}");
    let expected_path = input.with_file_name(format!("{case}{EXPECTED_SUFFIX}"));
    let actual = parse_case(channel, &fs::read(input).unwrap());
    let actual_text = serde_json::to_string_pretty(&actual).unwrap() + "\n";

    if bless {
        fs::write(&expected_path, actual_text).unwrap();
        return None;
    }
    let Ok(expected_text) = fs::read_to_string(&expected_path) else {
        return Some(format!(
            "{name}: no {} (run with ACCUEIL_BLESS=1, then read it)",
            expected_path.display()
        ));
    };
    let expected: Value = match serde_json::from_str(&expected_text) {
        Ok(v) => v,
        Err(e) => return Some(format!("{name}: expected file is not JSON: {e}")),
    };
    if expected == actual {
        return None;
    }
    let expected_text = serde_json::to_string_pretty(&expected).unwrap() + "\n";
    Some(format!(
        "=== {name} differs{}\n--- expected\n{expected_text}+++ actual\n{actual_text}",
        first_difference(&expected_text, &actual_text)
    ))
}

/// Where the pretty forms part, so a long case need not be read line by line.
fn first_difference(expected: &str, actual: &str) -> String {
    let mut expected_lines = expected.lines();
    let mut actual_lines = actual.lines();
    for line in 1.. {
        match (expected_lines.next(), actual_lines.next()) {
            (None, None) => break,
            (e, a) if e == a => continue,
            (e, a) => {
                return format!(
                    " at line {line}\n  expected: {}\n  actual:   {}",
                    e.unwrap_or("<end>"),
                    a.unwrap_or("<end>")
                )
            }
        }
    }
    String::new()
}
