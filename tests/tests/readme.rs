//! The README documents every channel of the registry: how to configure it
//! and how to point the provider at it. A channel cannot be added without
//! telling its user how to set it up.

use accueil_core::channels::{self, Channel};
use accueil_core::wording::Language;

fn readme() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    std::fs::read_to_string(path).expect("the README is readable")
}

/// The text between a heading and the next heading of the same level.
fn section<'a>(text: &'a str, heading: &str) -> &'a str {
    let start = text
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("the README has no {heading:?}"));
    let level = heading.split(' ').next().unwrap();
    let rest = &text[start + heading.len() + 2..];
    let end = rest.find(&format!("\n{level} ")).unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn every_channel_is_configured_and_pointed_at_in_the_readme() {
    let readme = readme();
    let configuration = section(&readme, "## Configuration");
    let pointing = section(&readme, "### 4. Point each channel at its URL");
    let mut missing = Vec::new();
    for &channel in Channel::ALL {
        if !configuration.contains(&format!("[channels.{channel}]")) {
            missing.push(format!("[channels.{channel}] under ## Configuration"));
        }
        let label = channels::label(channel, Language::En);
        if !pointing.contains(&format!("\n#### {label}")) {
            missing.push(format!(
                "#### {label}… under ### 4. Point each channel at its URL"
            ));
        }
        let (_, path) = channels::webhook(channel);
        if !readme.contains(path) {
            missing.push(format!("its webhook {path}"));
        }
    }
    assert!(
        missing.is_empty(),
        "the README lacks:\n{}",
        missing.join("\n")
    );
}
