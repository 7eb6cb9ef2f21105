//! The partition tables in `partitions/` are the AWS SDK's own, one file per
//! partition (see `src/partitions.rs`). This test reads the table built into
//! every AWS SDK crate of the workspace's lock file, cuts it the same way and
//! fails if a file differs: after an SDK update, run
//!
//!     ACCUEIL_WRITE_PARTITIONS=1 cargo test -p accueil-aws --test partition_tables
//!
//! to write them again, and review the diff.
//!
//! Cut: each file holds one partition, and of its regions only those that
//! change how the SDK resolves an endpoint. A listed region whose entry is
//! nothing but a description, and whose name the partition's pattern
//! matches, resolves exactly as if unlisted (the SDK tries listed names, then
//! the patterns; the entry overrides nothing), so it is left out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// The built-in table of each `aws-sdk-*` crate the lock file resolves.
fn sdk_tables() -> BTreeMap<String, Value> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut tables = BTreeMap::new();
    for package in metadata["packages"].as_array().unwrap() {
        let name = package["name"].as_str().unwrap();
        if !name.starts_with("aws-sdk-") {
            continue;
        }
        let manifest = Path::new(package["manifest_path"].as_str().unwrap());
        let source = manifest.parent().unwrap().join("src/endpoint_lib.rs");
        let source = std::fs::read_to_string(&source)
            .unwrap_or_else(|e| panic!("{}: {e}", source.display()));
        let version = package["version"].as_str().unwrap();
        tables.insert(format!("{name} {version}"), built_in(&source));
    }
    assert!(!tables.is_empty(), "no AWS SDK crate in the lock file");
    tables
}

/// The JSON the crate's default partition resolver is built from: the last
/// `new_from_json(b"…")` of `endpoint_lib.rs` (the first reads the custom file).
fn built_in(source: &str) -> Value {
    const OPEN: &str = "new_from_json(b\"";
    let start = source.rfind(OPEN).expect("the SDK's built-in table") + OPEN.len();
    let mut json = String::new();
    let mut chars = source[start..].chars();
    loop {
        match chars.next().expect("the table's literal ends") {
            '"' => break,
            '\\' => match chars.next() {
                Some(c @ ('"' | '\\')) => json.push(c),
                other => panic!("unexpected escape in the SDK's table: \\{other:?}"),
            },
            c => json.push(c),
        }
    }
    serde_json::from_str(&json).expect("the SDK's table is JSON")
}

/// One partition of the table, without the regions that change nothing.
fn cut(table: &Value, partition: &Value) -> Value {
    let pattern = partition["regionRegex"].as_str().unwrap();
    let pattern = regex_lite::Regex::new(pattern).unwrap();
    let mut partition = partition.clone();
    let regions = partition["regions"].as_object_mut().unwrap();
    regions.retain(|name, entry| {
        let only_description = entry
            .as_object()
            .is_some_and(|e| e.keys().all(|k| k == "description"));
        !(only_description && pattern.is_match(name))
    });
    json!({ "partitions": [partition], "version": table["version"] })
}

fn shipped_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("partitions")
}

#[test]
fn the_shipped_partition_tables_are_the_sdks_cut_one_per_partition() {
    let tables = sdk_tables();
    let (first_crate, table) = tables.iter().next().unwrap();
    // One custom table serves every SDK crate of a function.
    for (name, other) in &tables {
        assert_eq!(
            other, table,
            "{name} and {first_crate} embed different tables"
        );
    }

    let expected: BTreeMap<String, Value> = table["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (format!("{}.json", p["id"].as_str().unwrap()), cut(table, p)))
        .collect();
    assert!(expected.contains_key("aws.json"));

    if std::env::var_os("ACCUEIL_WRITE_PARTITIONS").is_some() {
        let dir = shipped_dir();
        for entry in std::fs::read_dir(&dir).unwrap() {
            std::fs::remove_file(entry.unwrap().path()).unwrap();
        }
        for (file, partition) in &expected {
            let text = serde_json::to_string_pretty(partition).unwrap() + "\n";
            std::fs::write(dir.join(file), text).unwrap();
        }
    }

    let mut shipped = BTreeMap::new();
    for entry in std::fs::read_dir(shipped_dir()).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        shipped.insert(name, serde_json::from_str::<Value>(&text).unwrap());
    }
    assert_eq!(
        shipped.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "one file per partition of the SDK's table ({first_crate})"
    );
    for (file, partition) in &expected {
        assert_eq!(
            &shipped[file], partition,
            "partitions/{file} is not the SDK's ({first_crate}): \
             ACCUEIL_WRITE_PARTITIONS=1 cargo test -p accueil-aws --test partition_tables"
        );
    }
}

/// The cut keeps what resolution needs: the pseudo-regions such as
/// `aws-global`, which no pattern matches, stay listed; and the cut drops
/// nothing but descriptions.
#[test]
fn the_cut_keeps_what_resolution_reads() {
    let table = json!({
        "version": "1.1",
        "partitions": [{
            "id": "aws",
            "outputs": { "dnsSuffix": "amazonaws.com" },
            "regionRegex": "^(us|eu)\\-\\w+\\-\\d+$",
            "regions": {
                "eu-west-3": { "description": "Europe (Paris)" },
                "us-east-1": { "description": "US East", "supportsFIPS": false },
                "aws-global": { "description": "aws global region" }
            }
        }]
    });
    let cut = cut(&table, &table["partitions"][0]);
    let regions = cut["partitions"][0]["regions"].as_object().unwrap();
    assert_eq!(
        regions.keys().collect::<Vec<_>>(),
        ["aws-global", "us-east-1"]
    );
    assert_eq!(
        cut["partitions"][0]["outputs"],
        table["partitions"][0]["outputs"]
    );
    assert_eq!(cut["version"], "1.1");
}
