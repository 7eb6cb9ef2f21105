//! Golden files: each `tests/fixtures/<channel>/<case>.<ext>` is a raw
//! webhook body as the provider sends it (`.json`, or `.form` for a form
//! post), and `<case>.expected.json` beside it is what the channel's route
//! made of it: the HTTP status and the jobs it queued (messages, customers'
//! amendments of earlier ones, quarantined payloads). Every channel of the
//! registry must have a folder; each case is signed as the provider would
//! sign it and posted to the demo business's own router, so parsing is
//! checked through the code that serves it.
//!
//! `ACCUEIL_BLESS=1 cargo test --test golden` (re)writes the expected files.
//! Read each rewritten file before keeping it: a blessed file only records
//! what the code does, not what it should do.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use accueil_core::channels::Channel;
use accueil_core::config::Config;
use accueil_core::ports::Job;
use serde_json::{json, Value};

const EXPECTED_SUFFIX: &str = ".expected.json";

/// A form's reference is made up at each submission: cases show its place.
fn stable(text: String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find("\"T-") {
        let (before, after) = rest.split_at(at);
        out.push_str(before);
        let id = &after[1..13];
        if accueil_core::domain::ThreadId::parse(id).is_ok() {
            out.push_str("\"T-REFERENCE");
            rest = &after[13..];
        } else {
            out.push_str(&after[..3]);
            rest = &after[3..];
        }
    }
    out.push_str(rest);
    out
}

fn run_case(config: &Arc<Config>, channel: Channel, input: &Path) -> Value {
    let body = fs::read(input).unwrap();
    let (status, jobs) = support::deliver(config, channel, support::content_type(input), body);
    let mut messages = Vec::new();
    let mut amendments = Vec::new();
    let mut quarantined = Vec::new();
    for job in jobs {
        match job {
            Job::Message(envelope) => messages.push(serde_json::to_value(envelope).unwrap()),
            Job::Amend(amendment) => amendments.push(serde_json::to_value(amendment).unwrap()),
            // The payload is the input itself, its id random.
            Job::Quarantine(q) => quarantined.push(json!(q.reason)),
            Job::Acknowledge(d) => panic!("a webhook queued an acknowledgement: {d:?}"),
            Job::Reply(r) => panic!("a webhook queued an owner's reply: {r:?}"),
        }
    }
    let mut result = json!({ "status": status, "messages": messages, "quarantined": quarantined });
    if !amendments.is_empty() {
        result["amendments"] = json!(amendments);
    }
    serde_json::from_str(&stable(result.to_string())).unwrap()
}

#[test]
fn fixtures_parse_as_expected() {
    let bless = std::env::var_os("ACCUEIL_BLESS").is_some_and(|v| v == "1");
    // The demo business enables every channel, with demo credentials.
    let config = Arc::new(Config::demo());
    let mut failures = Vec::new();
    for &channel in Channel::ALL {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(channel.as_str());
        let (inputs, orphans) = cases(&dir);
        assert!(!inputs.is_empty(), "no cases in {}", dir.display());
        for orphan in orphans {
            failures.push(format!(
                "{}: expected file without an input",
                orphan.display()
            ));
        }
        for input in inputs {
            if let Some(failure) = check(&config, channel, &input, bless) {
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
            if !["json", "form"]
                .iter()
                .any(|ext| dir.join(format!("{case}.{ext}")).exists())
            {
                orphans.push(path);
            }
        } else if name.ends_with(".json") || name.ends_with(".form") {
            inputs.push(path);
        }
    }
    inputs.sort();
    orphans.sort();
    (inputs, orphans)
}

/// Compares one case, or rewrites its expected file when blessing.
fn check(config: &Arc<Config>, channel: Channel, input: &Path, bless: bool) -> Option<String> {
    let case = input.file_stem().unwrap().to_string_lossy();
    let name = format!("{channel}/{case}");
    let expected_path = input.with_file_name(format!("{case}{EXPECTED_SUFFIX}"));
    let actual = run_case(config, channel, input);
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
