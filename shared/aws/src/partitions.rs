//! The AWS partition table the SDK clients of a Lambda function read.
//!
//! Every AWS SDK crate carries the table of all AWS partitions (commercial,
//! China, GovCloud, the isolated ones…) and parses it, compiling each
//! partition's region pattern, as the first client of that crate is created:
//! 0.18 million instructions of JSON and 0.2 million of regular expressions
//! per crate, more than an empty function's whole start. A function only ever
//! runs in one partition, so the stack points the SDK's own variable,
//! `SMITHY_CLIENT_SDK_CUSTOM_PARTITION`, at that partition's entry of the same
//! table (`shared/aws/partitions/`, shipped as a Lambda layer). The tables are
//! the SDK's, cut by `tests/partition_tables.rs`, which fails when an SDK
//! update changes them.
//!
//! The SDK panics on a table it cannot read or parse. This check turns the
//! likely mistakes (no file, not JSON, no partitions) into a start-up error
//! naming the variable; a table with partitions the SDK cannot use still
//! panics, which the test on the shipped tables rules out for them.

use std::path::Path;

use crate::env::EnvError;

/// The SDK's own variable (smithy-rs #3610).
pub const CUSTOM_PARTITION: &str = "SMITHY_CLIENT_SDK_CUSTOM_PARTITION";

/// Checks that the table `SMITHY_CLIENT_SDK_CUSTOM_PARTITION` names, if it
/// names one, is one the SDK can use. Unset, the SDK's built-in table is used.
pub fn check() -> Result<(), EnvError> {
    match std::env::var_os(CUSTOM_PARTITION) {
        Some(path) => check_table(Path::new(&path)),
        None => Ok(()),
    }
}

fn check_table(path: &Path) -> Result<(), EnvError> {
    let invalid = |reason: String| EnvError::Invalid {
        name: CUSTOM_PARTITION,
        reason: format!("{}: {reason}", path.display()),
    };
    let text = std::fs::read_to_string(path).map_err(|e| invalid(e.to_string()))?;
    let table: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| invalid(format!("not an AWS partition table: {e}")))?;
    match table["partitions"].as_array() {
        Some(partitions) if !partitions.is_empty() => Ok(()),
        _ => Err(invalid("not an AWS partition table: no partitions".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_the_sdk_would_panic_on_is_a_start_up_error_naming_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("aws.json");
        let error = check_table(&missing).unwrap_err().to_string();
        assert!(
            error.contains("SMITHY_CLIENT_SDK_CUSTOM_PARTITION"),
            "{error}"
        );
        assert!(error.contains("aws.json"), "{error}");
        for bad in ["", "{\"partitions\": []}", "<html>"] {
            std::fs::write(&missing, bad).unwrap();
            let error = check_table(&missing).unwrap_err().to_string();
            assert!(
                error.contains("not an AWS partition table"),
                "{bad:?}: {error}"
            );
        }
    }

    #[test]
    fn every_shipped_table_passes() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("partitions");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            check_table(&entry.unwrap().path()).unwrap();
            checked += 1;
        }
        assert!(checked > 0);
    }
}
