//! The official JS SDK (`@adobe/aio-lib-photoshop-api`, from npm) against `maskflow emulate`:
//! a client no one here wrote runs `createMask` and polls the job to success. Needs Node.js
//! 20+ and npm; `npm ci` installs the SDK pinned in `tests/node/package-lock.json`.

// A failing unwrap is a failed assertion with its location (helpers are not `#[test]`s).
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

#[test]
fn the_official_sdk_gets_a_mask_from_the_emulator() {
    let dir = common::repo().join("tests/node");
    let npm = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .status()
        .expect("npm is needed for this test (Node.js 20+): install it, e.g. apt-get install nodejs npm");
    assert!(npm.success(), "npm ci failed in tests/node");
    let output = Command::new("node")
        .args(["--test", "sdk.test.mjs"])
        .current_dir(&dir)
        .env(
            "EMULATOR_CMD",
            format!(
                "{} emulate --format json --port 0 --latency 1s",
                common::BIN
            ),
        )
        .output()
        .expect("node runs");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the SDK test failed:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains("# pass 3"), "{report}");
}
