//! The committed schemas match the types, and are valid JSON Schema 2020-12.
//! After changing the types: `UPDATE_SCHEMAS=1 cargo test --test schemas`, then commit.

// A failing unwrap is a failed assertion with its location (helpers are not `#[test]`s).
#![allow(clippy::unwrap_used)]

use std::path::Path;

fn check(file: &str, fresh: String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(file);
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{} is stale; run `UPDATE_SCHEMAS=1 cargo test --test schemas` and commit it",
        path.display()
    );
    let value: serde_json::Value = serde_json::from_str(&fresh).unwrap();
    jsonschema::draft202012::meta::validate(&value).unwrap();
}

#[test]
fn manifest_schema_is_committed_and_current() {
    check("maskflow.schema.json", maskflow::manifest::schema_json());
}

#[test]
fn lock_schema_is_committed_and_current() {
    check("maskflow.lock.schema.json", maskflow::lock::schema_json());
}

#[test]
fn events_schema_is_committed_and_current() {
    check(
        "maskflow.events.schema.json",
        maskflow::report::events::schema_json(),
    );
}

#[test]
fn schema_command_prints_the_committed_schemas() {
    let bin = env!("CARGO_BIN_EXE_maskflow");
    let manifest = std::process::Command::new(bin)
        .arg("schema")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(manifest.stdout).unwrap(),
        maskflow::manifest::schema_json()
    );
    let lock = std::process::Command::new(bin)
        .args(["schema", "--lock"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(lock.stdout).unwrap(),
        maskflow::lock::schema_json()
    );
    let events = std::process::Command::new(bin)
        .args(["schema", "--events"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(events.stdout).unwrap(),
        maskflow::report::events::schema_json()
    );
}
