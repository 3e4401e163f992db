//! The visual report, opened in a real browser: headless Chromium (Debian's `chromium`,
//! installed by scripts/test on CI; `CHROMIUM=/path` picks another) renders what
//! `apply --report` and `maskflow report` wrote.

// A failing unwrap is a failed assertion with its location (helpers are not `#[test]`s).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

/// A scratch copy of examples/: the quickstart manifest and its six photographs.
fn examples() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("photos")).unwrap();
    std::fs::copy(
        repo().join("examples/maskflow.yaml"),
        dir.path().join("maskflow.yaml"),
    )
    .unwrap();
    for entry in std::fs::read_dir(repo().join("examples/photos")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(
            &path,
            dir.path().join("photos").join(path.file_name().unwrap()),
        )
        .unwrap();
    }
    dir
}

fn chromium_binary() -> String {
    if let Ok(path) = std::env::var("CHROMIUM") {
        return path;
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        let found = std::env::var_os("PATH")
            .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
            .unwrap_or(false);
        if found {
            return name.to_owned();
        }
    }
    panic!(
        "this test needs a headless Chromium: apt-get install chromium (scripts/test does on CI), or set CHROMIUM"
    )
}

/// Runs headless Chromium on `page` with `args` (`--dump-dom`, `--screenshot=...`), in a
/// fresh profile, without network or background services.
fn chromium(page: &Path, args: &[&str]) -> Output {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(chromium_binary())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(
        output.status.success(),
        "chromium {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn dump_dom(page: &Path) -> String {
    String::from_utf8(chromium(page, &["--dump-dom"]).stdout).unwrap()
}

/// The `data-state` of every card, in page order.
fn card_states(dom: &str) -> Vec<String> {
    dom.split("<article class=\"card\" data-state=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .collect()
}

/// The card of `key`, as HTML.
fn card<'a>(dom: &'a str, key: &str) -> &'a str {
    dom.split("<article ")
        .find(|c| c.contains(&format!("<h2 title=\"{key}\">")))
        .unwrap_or_else(|| panic!("no card for {key}"))
}

/// Every `<img>` carries the size it decoded to (recorded by the page's script on load):
/// none is broken, and each is a preview no larger than 128 pixels.
fn assert_every_image_decoded(dom: &str, expected: usize) {
    let images: Vec<&str> = dom.split("<img ").skip(1).collect();
    assert_eq!(images.len(), expected, "images in the report");
    for image in images {
        let tag = &image[..image.find('>').unwrap()];
        let natural = tag.split("data-natural=\"").nth(1).unwrap_or_else(|| {
            panic!(
                "no decoded size on {}",
                &tag[tag.len().saturating_sub(80)..]
            )
        });
        let natural = &natural[..natural.find('"').unwrap()];
        let (width, height) = natural.split_once('x').unwrap();
        let (width, height): (u32, u32) = (width.parse().unwrap(), height.parse().unwrap());
        assert!(
            width > 0 && height > 0 && width.max(height) <= 128,
            "an image decoded to {natural}"
        );
    }
    assert!(
        dom.contains(&format!("data-loaded=\"{expected}\"")),
        "the load event ran"
    );
}

/// A screenshot of `page`, 1280 pixels wide, decoded.
fn screenshot(page: &Path, out: &Path) -> image::RgbImage {
    let shot = format!("--screenshot={}", out.display());
    chromium(page, &[&shot, "--window-size=1280,1000"]);
    image::open(out).expect("a PNG screenshot").to_rgb8()
}

/// A copy of `page` whose scripts the browser refuses (a Content-Security-Policy of
/// `script-src 'none'`): the page as a reader with JavaScript off sees it. (Chromium's own
/// switch for that also stops headless screenshots.)
fn without_javascript(page: &Path) -> PathBuf {
    let html = std::fs::read_to_string(page).unwrap();
    let copy = page.with_extension("no-js.html");
    std::fs::write(
        &copy,
        html.replacen(
            "<head>",
            "<head><meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'none'\">",
            1,
        ),
    )
    .unwrap();
    copy
}

/// Not blank: many distinct colours, and a good number of saturated pixels (the photographs
/// and their cutouts; the page's own chrome is grey, white and a few badges).
fn assert_shows_photographs(shot: &image::RgbImage) {
    let mut colours = std::collections::HashSet::new();
    let mut saturated = 0usize;
    for pixel in shot.pixels() {
        colours.insert(pixel.0);
        let max = *pixel.0.iter().max().unwrap();
        let min = *pixel.0.iter().min().unwrap();
        if max - min > 60 {
            saturated += 1;
        }
    }
    assert!(colours.len() > 5_000, "{} colours: blank?", colours.len());
    // A page whose images broke keeps its badges and checkboxes: under 10,000.
    assert!(
        saturated > 20_000,
        "only {saturated} colourful pixels: are the photographs there?"
    );
}

fn html_of(root: &Path, name: &str) -> PathBuf {
    let path = root.join(name);
    assert!(path.is_file(), "{name} was not written");
    path
}

#[test]
fn the_report_renders_every_card_and_shows_what_an_update_changed() {
    let dir = examples();
    let root = dir.path();
    let output = run(root, &["apply", "--report", "report.html"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("Report: report.html (6 images)"),
        "{}",
        stderr(&output)
    );
    let page = html_of(root, "report.html");

    let dom = dump_dom(&page);
    let mut states = card_states(&dom);
    states.sort();
    assert_eq!(states, ["created"; 6]);
    // Input, mask and cutout on every card.
    assert_every_image_decoded(&dom, 18);
    assert!(card(&dom, "masks/launch-binary.png").contains("local · u2netp"));
    assert!(!dom.contains("previous mask"));

    let shot = screenshot(&page, &root.join("first.png"));
    assert_shows_photographs(&shot);
    // Readable without JavaScript: every card and preview is there, only the script's
    // record of decoded sizes is not.
    let no_js = without_javascript(&page);
    let dom = dump_dom(&no_js);
    assert_eq!(card_states(&dom).len(), 6);
    assert!(!dom.contains("data-natural"), "the script was blocked");
    assert_shows_photographs(&screenshot(&no_js, &root.join("no-js.png")));

    // Change one photograph (the cat, mirrored): only its card is updated, with the mask it
    // had before beside the new one and the share of pixels that changed.
    let cat = root.join("photos/chelsea.png");
    image::imageops::flip_horizontal(&image::open(&cat).unwrap().to_rgb8())
        .save(&cat)
        .unwrap();
    let output = run(root, &["apply", "--report", "rerun.html"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let page = html_of(root, "rerun.html");
    let dom = dump_dom(&page);
    let states = card_states(&dom);
    assert_eq!(
        states.iter().filter(|s| *s == "updated").count(),
        1,
        "{states:?}"
    );
    assert_eq!(
        states.iter().filter(|s| *s == "unchanged").count(),
        5,
        "{states:?}"
    );
    assert_eq!(states[0], "updated", "changes come first");
    let updated = card(&dom, "masks/chelsea.png");
    assert!(updated.contains("data-state=\"updated\""));
    assert!(updated.contains("input changed"), "{updated}");
    assert!(
        updated.contains("<figcaption>previous mask</figcaption>"),
        "{updated}"
    );
    assert!(
        updated.contains("<figcaption>new mask</figcaption>"),
        "{updated}"
    );
    let share = changed_share(updated);
    assert!(share > 1.0 && share < 100.0, "{share}% changed");
    // 18 previews, plus the previous mask and the new one again on the updated card.
    assert_every_image_decoded(&dom, 20);
    let shot = screenshot(&page, &root.join("rerun.png"));
    assert_shows_photographs(&shot);

    // Later, `maskflow report` shows what that run did, from the record beside the lockfile.
    assert!(root.join(".maskflow/last-run.json").is_file());
    assert_eq!(
        std::fs::read_to_string(root.join(".maskflow/.gitignore"))
            .unwrap()
            .lines()
            .last(),
        Some("*")
    );
    let output = run(root, &["report", "--output", "later.html"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let later = std::fs::read_to_string(html_of(root, "later.html")).unwrap();
    let states = card_states(&later);
    assert_eq!(
        states.iter().filter(|s| *s == "updated").count(),
        1,
        "{states:?}"
    );
    assert_eq!(changed_share(card(&later, "masks/chelsea.png")), share);

    // Once a photograph changes again, its card says what is pending, not what was done.
    std::fs::copy(repo().join("examples/photos/chelsea.png"), &cat).unwrap();
    let output = run(root, &["report", "--output", "pending.html"]);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let pending = std::fs::read_to_string(html_of(root, "pending.html")).unwrap();
    let cat_card = card(&pending, "masks/chelsea.png");
    assert!(cat_card.contains("data-state=\"pending\""), "{cat_card}");
    assert!(cat_card.contains("input changed"), "{cat_card}");
}

/// The `12.3` of a card's `<strong>12.3%</strong> of pixels changed`.
fn changed_share(card: &str) -> f64 {
    let text = card
        .split("<p class=\"change\"><strong>")
        .nth(1)
        .unwrap_or_else(|| panic!("no changed share in {card}"));
    text[..text.find('%').unwrap()].parse().unwrap()
}

#[test]
fn a_failed_image_shows_its_error_and_names_are_escaped() {
    let dir = scratch(&["coffee.png"]);
    let root = dir.path();
    std::fs::write(
        root.join("photos/<img src=x onerror=alert(1)>.png"),
        b"not a PNG",
    )
    .unwrap();
    write(root, "maskflow.yaml", EVERY_PNG);
    let output = run(root, &["apply", "--report", "report.html"]);
    assert_eq!(code(&output), 1, "{}", stderr(&output));
    let html = std::fs::read_to_string(html_of(root, "report.html")).unwrap();
    let mut states = card_states(&html);
    states.sort();
    assert_eq!(states, ["created", "failed"]);
    let failed = card(&html, "masks/&lt;img src=x onerror=alert(1)&gt;.png");
    assert!(failed.contains("<p class=\"error\">"), "{failed}");
    assert!(!html.contains("<img src=x"), "names are escaped");
    // Failures come first.
    assert_eq!(card_states(&html)[0], "failed");
}
