//! `insta` settings for snapshots of what maskflow prints (tests/snapshots/): what changes
//! from run to run (durations, ports, temporary folders) is replaced by a placeholder, so a
//! snapshot changes only when the output does. Under `CI=true` a mismatch fails the test and
//! nothing is rewritten; locally `cargo insta review` (or INSTA_UPDATE=always) updates them.

/// Everything a run said, as one text with a header per part, for one snapshot.
pub fn transcript(parts: &[(&str, &str)]) -> String {
    parts
        .iter()
        .map(|(name, text)| format!("----- {name}\n{text}"))
        .collect()
}

/// Runs `check` (the `insta::assert_snapshot!` calls) with the filters bound.
pub fn filtered(check: impl FnOnce()) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(super::repo().join("tests/snapshots"));
    settings.set_prepend_module_to_snapshot(true);
    settings.set_omit_expression(true);
    // Durations as the renderers print them: `in 1.2s`, `350ms`.
    settings.add_filter(r"\b\d+(\.\d+)?(ms|s)\b", "[TIME]");
    // Servers on a free port of the loopback interface.
    settings.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
    // `tempfile` folders (`/tmp/.tmpAbC123`, macOS's `/private/var/folders/...`).
    settings.add_filter(r"(/[^\s/`'\x22]+)*/\.tmp[0-9A-Za-z]{6}", "[TEMP]");
    // The random heredoc delimiter of multi-line `$GITHUB_OUTPUT` values.
    settings.add_filter(r"ghadelimiter_[0-9a-f]{16}", "ghadelimiter_[RANDOM]");
    settings.bind(check);
}
