//! Outside input never panics a parser: release builds abort on a panic,
//! and on AWS one panic costs the whole batch of its invocation. Every
//! channel's route of the registry is posted arbitrary bytes and mutations
//! of its golden cases, correctly signed; the configuration is read from
//! arbitrary and mutated text; signature headers are arbitrary strings.
//! Nothing may panic, an authentic body is answered (never a 5xx), and an
//! authentic body that is not JSON is quarantined, never dropped.
//!
//! The number of cases of each property is `CASES`; the README counts them.

mod support;

use std::fs;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use accueil_core::channels::meta_signature::MetaSignature;
use accueil_core::channels::{self, Channel};
use accueil_core::config::{Config, LocalSecrets, DEMO};
use accueil_core::ports::Job;
use proptest::prelude::*;
use serde_json::Value;

/// Cases per property (proptest's default is 256).
const CASES: u32 = 512;

fn config() -> Arc<Config> {
    static CONFIG: OnceLock<Arc<Config>> = OnceLock::new();
    CONFIG.get_or_init(|| Arc::new(Config::demo())).clone()
}

fn deliver(channel: Channel, content_type: &str, body: Vec<u8>) -> (u16, Vec<Job>) {
    support::deliver(&config(), channel, content_type, body)
}

/// Every golden case, as (channel, content type, bytes).
fn golden_cases() -> &'static [(Channel, &'static str, Vec<u8>)] {
    static CASES: OnceLock<Vec<(Channel, &'static str, Vec<u8>)>> = OnceLock::new();
    CASES.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut cases = Vec::new();
        for &channel in Channel::ALL {
            let mut paths: Vec<_> = fs::read_dir(root.join(channel.as_str()))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| {
                    let name = p.file_name().unwrap().to_string_lossy();
                    !name.ends_with(".expected.json")
                        && (name.ends_with(".json") || name.ends_with(".form"))
                })
                .collect();
            paths.sort();
            for path in paths {
                cases.push((
                    channel,
                    support::content_type(&path),
                    fs::read(&path).unwrap(),
                ));
            }
        }
        cases
    })
}

fn any_channel() -> impl Strategy<Value = Channel> {
    proptest::sample::select(Channel::ALL.to_vec())
}

/// A byte-level change: set, insert or delete at a position (taken modulo
/// the length), or cut the rest.
#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Delete),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, edit: &Edit) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
    match *edit {
        Edit::Set(i, b) if !bytes.is_empty() => {
            let i = at(i, bytes.len());
            bytes[i] = b;
        }
        Edit::Insert(i, b) => {
            let i = at(i, bytes.len() + 1);
            bytes.insert(i, b);
        }
        Edit::Delete(i) if !bytes.is_empty() => {
            let i = at(i, bytes.len());
            bytes.remove(i);
        }
        Edit::Truncate(i) => {
            let i = at(i, bytes.len() + 1);
            bytes.truncate(i);
        }
        _ => {}
    }
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Replaces the `n`-th node (in a walk of the tree) by `with`.
fn replace_node(value: &mut Value, n: &mut usize, with: &Value) -> bool {
    if *n == 0 {
        *value = with.clone();
        return true;
    }
    *n -= 1;
    match value {
        Value::Array(items) => items.iter_mut().any(|v| replace_node(v, n, with)),
        Value::Object(map) => map.values_mut().any(|v| replace_node(v, n, with)),
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_are_answered_and_what_is_not_json_is_quarantined(
        channel in any_channel(),
        body in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let (status, jobs) = deliver(channel, "application/json", body.clone());
        prop_assert!(status < 500, "{channel}: {status}");
        let signed = !channels::signature(&config(), channel, &body).unwrap().is_empty();
        if signed && serde_json::from_slice::<Value>(&body).is_err() {
            prop_assert_eq!(status, 200, "{}", channel);
            prop_assert!(
                jobs.iter().any(|j| matches!(j, Job::Quarantine(_))),
                "{channel}: an authentic body that is not JSON was dropped"
            );
        }
    }

    #[test]
    fn mutated_golden_cases_are_answered_without_panic(
        case in any::<proptest::sample::Index>(),
        edits in proptest::collection::vec(edit(), 1..8),
    ) {
        let (channel, content_type, original) = case.get(golden_cases());
        let mut body = original.clone();
        for e in &edits {
            apply(&mut body, e);
        }
        let (status, jobs) = deliver(*channel, content_type, body.clone());
        prop_assert!(status < 500, "{channel}: {status}");
        let signed = !channels::signature(&config(), *channel, &body).unwrap().is_empty();
        if signed && serde_json::from_slice::<Value>(&body).is_err() {
            prop_assert!(jobs.iter().any(|j| matches!(j, Job::Quarantine(_))), "{channel}: dropped");
        }
    }

    #[test]
    fn golden_cases_with_a_node_replaced_are_answered_without_panic(
        case in any::<proptest::sample::Index>(),
        node in any::<usize>(),
        with in json_value(),
    ) {
        let (channel, content_type, original) = case.get(golden_cases());
        let Ok(mut json) = serde_json::from_slice::<Value>(original) else {
            return Ok(()); // a form or a non-JSON case: the byte edits cover it
        };
        let mut n = node % 64;
        replace_node(&mut json, &mut n, &with);
        let (status, _) = deliver(*channel, content_type, json.to_string().into_bytes());
        prop_assert!(status < 500, "{channel}: {status}");
    }

    #[test]
    fn a_signature_header_of_any_shape_is_checked_without_panic(
        header in proptest::option::of(".{0,80}"),
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let signature = MetaSignature::new("demo-app-secret");
        let valid = signature.sign(&body);
        let verdict = signature.verify(header.as_deref(), &body);
        prop_assert_eq!(verdict.is_ok(), header.as_deref().map(str::trim) == Some(valid.as_str()));
    }

    #[test]
    fn any_configuration_text_is_read_or_refused_by_name(text in ".{0,400}") {
        if let Err(e) = Config::parse(&text, &LocalSecrets) {
            prop_assert!(!e.key.is_empty());
        }
    }

    #[test]
    fn a_mutated_demo_configuration_is_read_or_refused_by_name(
        edits in proptest::collection::vec(edit(), 1..6),
    ) {
        let mut bytes = DEMO.as_bytes().to_vec();
        for e in &edits {
            apply(&mut bytes, e);
        }
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = Config::parse(&text, &LocalSecrets) {
            prop_assert!(!e.key.is_empty());
        }
    }
}
