//! The visual report: one self-contained HTML file (every preview inlined as a `data:` URI,
//! no network) with a card per image, filters by state and engine, and sorting by how much
//! a mask changed. Filters and sorting are plain CSS (`:checked` inputs, `:has()`, `order`),
//! so the page works with JavaScript off; the one short script only records, for tests and
//! tools, the size each preview decoded to.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::cards::Card;
use crate::thumbnail;

/// Badge colours of the states maskflow knows; any other state gets the neutral one, and
/// still its own badge and filter.
const STATE_COLOURS: &[(&str, &str)] = &[
    ("failed", "#cf222e"),
    ("conflict", "#bc4c00"),
    ("updated", "#9a6700"),
    ("created", "#1a7f37"),
    ("kept", "#8250df"),
    ("manual", "#8250df"),
    ("pending", "#0969da"),
    ("skipped", "#6e7781"),
    ("removed", "#6e7781"),
    ("orphaned", "#6e7781"),
    ("unchanged", "#57606a"),
];
const NEUTRAL: &str = "#57606a";

/// Renders `cards` as a complete HTML document. `title` names the manifest; `generated` is
/// a timestamp shown in the header.
pub fn render(cards: &[Card], title: &str, generated: &str) -> String {
    let previews: Vec<Previews> = cards.iter().map(Previews::of).collect();
    let order = display_order(cards);
    let mut states = tally(cards.iter().map(|c| c.state.as_str()));
    states.sort_by_key(|(state, _)| (weight(state), state.clone()));
    let engines = tally(cards.iter().map(|c| c.engine.as_str()));

    let mut html = String::with_capacity(cards.len() * 12 * 1024 + 16 * 1024);
    html.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(html, "<title>maskflow report: {}</title>", escape(title));
    html.push_str("<style>\n");
    html.push_str(STYLE);
    html.push_str(&filter_rules("state", &states));
    html.push_str(&filter_rules("engine", &engines));
    html.push_str("</style>\n</head>\n<body>\n<header class=\"top\">\n");
    let _ = writeln!(
        html,
        "<h1>maskflow report <span class=\"manifest\">{}</span></h1>",
        escape(title)
    );
    let counts: Vec<String> = states
        .iter()
        .map(|(state, count)| format!("{count} {}", escape(state)))
        .collect();
    let _ = writeln!(
        html,
        "<p class=\"counts\">{} image{}: {}. Generated {}.</p>",
        cards.len(),
        if cards.len() == 1 { "" } else { "s" },
        counts.join(", "),
        escape(generated)
    );
    html.push_str("<div class=\"controls\">\n");
    html.push_str(&filter_controls("state", "State", &states, true));
    html.push_str(&filter_controls("engine", "Engine", &engines, false));
    html.push_str(
        "<fieldset><legend>Sort</legend>\
         <label><input type=\"radio\" name=\"sort\" id=\"sort-state\" checked> state</label>\
         <label><input type=\"radio\" name=\"sort\" id=\"sort-change\"> most changed</label>\
         <label><input type=\"radio\" name=\"sort\" id=\"sort-name\"> name</label>\
         </fieldset>\n",
    );
    html.push_str("</div>\n</header>\n<main class=\"cards\">\n");
    let by_change = rank_by_change(cards);
    let by_name = rank_by_name(cards);
    for &i in &order {
        card(&mut html, &cards[i], &previews[i], by_change[i], by_name[i]);
    }
    if cards.is_empty() {
        html.push_str("<p class=\"empty\">The manifest lists no images.</p>\n");
    }
    html.push_str("</main>\n");
    let _ = writeln!(
        html,
        "<footer>A pixel counts as changed when its mask value moved by more than {}/255. \
         Previews are at most {} pixels wide.</footer>",
        thumbnail::CHANGE_THRESHOLD,
        thumbnail::MAX_SIDE
    );
    html.push_str(SCRIPT);
    html.push_str("</body>\n</html>\n");
    html
}

/// The previews of one card, as `data:` URIs, and why any is missing.
struct Previews {
    input: Option<String>,
    mask: Option<String>,
    cutout: Option<String>,
    previous: Option<String>,
    problems: Vec<String>,
}

impl Previews {
    fn of(card: &Card) -> Self {
        let mut problems = Vec::new();
        let photo = card.input_path.as_ref().and_then(|p| {
            thumbnail::photo(p)
                .map_err(|e| problems.push(e.to_string()))
                .ok()
        });
        let mask = card
            .mask_path
            .as_ref()
            .filter(|p| p.is_file())
            .and_then(|p| {
                thumbnail::mask_file(p)
                    .map_err(|e| problems.push(e.to_string()))
                    .ok()
            });
        let cutout = match (&photo, &mask) {
            (Some(photo), Some(mask)) => {
                Some(thumbnail::jpeg_data_uri(&thumbnail::cutout(photo, mask)))
            }
            _ => None,
        };
        Previews {
            input: photo.as_ref().map(thumbnail::jpeg_data_uri),
            mask: mask.as_ref().map(thumbnail::png_data_uri),
            cutout,
            previous: card.previous.as_ref().map(thumbnail::png_data_uri),
            problems,
        }
    }
}

fn card(html: &mut String, card: &Card, previews: &Previews, by_change: usize, by_name: usize) {
    let state = slug(&card.state);
    let _ = writeln!(
        html,
        "<article class=\"card\" data-state=\"{state}\" data-engine=\"{}\" style=\"--by-change:{by_change};--by-name:{by_name}\">",
        slug(&card.engine)
    );
    let _ = writeln!(
        html,
        "<header><h2 title=\"{key}\">{key}</h2><span class=\"badge\" style=\"--tone:{}\">{}</span></header>",
        colour(&card.state),
        escape(&card.state),
        key = escape(&card.key),
    );
    html.push_str("<div class=\"row\">");
    figure(
        html,
        previews.input.as_deref(),
        "input",
        card.input_path.is_none().then_some("remote input"),
    );
    let mask_label = if previews.previous.is_some() {
        "new mask"
    } else {
        "mask"
    };
    figure(html, previews.mask.as_deref(), mask_label, Some("no mask"));
    figure(
        html,
        previews.cutout.as_deref(),
        "cutout",
        Some("no cutout"),
    );
    html.push_str("</div>\n");
    if let Some(previous) = &previews.previous {
        html.push_str("<div class=\"row diff\">");
        figure(html, Some(previous), "previous mask", None);
        figure(html, previews.mask.as_deref(), "new mask", Some("no mask"));
        if let Some(share) = card.changed {
            let _ = write!(
                html,
                "<p class=\"change\"><strong>{}</strong> of pixels changed\
                 <meter min=\"0\" max=\"1\" value=\"{share:.4}\"></meter></p>",
                percent(share)
            );
        }
        html.push_str("</div>\n");
    }
    html.push_str("<dl>");
    if let Some(input) = &card.input {
        let _ = write!(html, "<dt>input</dt><dd>{}</dd>", escape(input));
    }
    if !card.engine.is_empty() {
        let _ = write!(html, "<dt>engine</dt><dd>{}", escape(&card.engine));
        if !card.model.is_empty() {
            let _ = write!(html, " · {}", escape(&card.model));
        }
        html.push_str("</dd>");
    }
    if !card.reasons.is_empty() {
        let _ = write!(
            html,
            "<dt>why</dt><dd>{}</dd>",
            escape(&card.reasons.join("; "))
        );
    }
    html.push_str("</dl>\n");
    if let Some(error) = &card.error {
        let _ = writeln!(html, "<p class=\"error\">{}</p>", escape(error));
    }
    for problem in &previews.problems {
        let _ = writeln!(html, "<p class=\"problem\">{}</p>", escape(problem));
    }
    html.push_str("</article>\n");
}

fn figure(html: &mut String, uri: Option<&str>, caption: &str, missing: Option<&str>) {
    match uri {
        Some(uri) => {
            let _ = write!(
                html,
                "<figure><img src=\"{}\" alt=\"{caption}\" decoding=\"async\"><figcaption>{caption}</figcaption></figure>",
                escape(uri)
            );
        }
        None => {
            let _ = write!(
                html,
                "<figure class=\"missing\"><span>{}</span><figcaption>{caption}</figcaption></figure>",
                missing.unwrap_or("none")
            );
        }
    }
}

/// Where a state sorts: failures first, the unchanged last, states not listed in between.
fn weight(state: &str) -> usize {
    STATE_COLOURS
        .iter()
        .position(|(s, _)| *s == state)
        .unwrap_or(STATE_COLOURS.len() / 2)
}

/// Cards by state, then by key.
fn display_order(cards: &[Card]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..cards.len()).collect();
    order.sort_by(|&a, &b| {
        (weight(&cards[a].state), &cards[a].key).cmp(&(weight(&cards[b].state), &cards[b].key))
    });
    order
}

/// Each card's place when sorted by change, most changed first; cards without a previous
/// mask follow, the changed states (created, failed...) before the unchanged.
fn rank_by_change(cards: &[Card]) -> Vec<usize> {
    let display = display_order(cards);
    let mut order: Vec<usize> = (0..cards.len()).collect();
    let position: Vec<usize> = {
        let mut p = vec![0; cards.len()];
        for (rank, &i) in display.iter().enumerate() {
            p[i] = rank;
        }
        p
    };
    order.sort_by(|&a, &b| {
        let key = |i: usize| (cards[i].changed.map_or(1.0, |c| -c), position[i]);
        key(a).partial_cmp(&key(b)).expect("shares are finite")
    });
    ranks(&order)
}

fn rank_by_name(cards: &[Card]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..cards.len()).collect();
    order.sort_by(|&a, &b| cards[a].key.cmp(&cards[b].key));
    ranks(&order)
}

fn ranks(order: &[usize]) -> Vec<usize> {
    let mut rank = vec![0; order.len()];
    for (place, &i) in order.iter().enumerate() {
        rank[i] = place;
    }
    rank
}

/// Each distinct value with its count, by name.
fn tally<'a>(values: impl Iterator<Item = &'a str>) -> Vec<(String, usize)> {
    let mut counts = BTreeMap::new();
    for value in values.filter(|v| !v.is_empty()) {
        *counts.entry(value.to_owned()).or_insert(0) += 1;
    }
    counts.into_iter().collect()
}

/// One checkbox per value; unchecking hides that value's cards (CSS only).
fn filter_controls(
    dimension: &str,
    legend: &str,
    values: &[(String, usize)],
    badges: bool,
) -> String {
    let mut html = format!("<fieldset><legend>{legend}</legend>");
    for (value, count) in values {
        let label = if badges {
            format!(
                "<span class=\"badge\" style=\"--tone:{}\">{}</span>",
                colour(value),
                escape(value)
            )
        } else {
            escape(value)
        };
        let _ = write!(
            html,
            "<label><input type=\"checkbox\" id=\"{dimension}-{}\" checked> {label} <span class=\"n\">{count}</span></label>",
            slug(value)
        );
    }
    html.push_str("</fieldset>\n");
    html
}

fn filter_rules(dimension: &str, values: &[(String, usize)]) -> String {
    values
        .iter()
        .map(|(value, _)| {
            let value = slug(value);
            format!(
                "body:has(#{dimension}-{value}:not(:checked)) .card[data-{dimension}=\"{value}\"]{{display:none}}\n"
            )
        })
        .collect()
}

fn colour(state: &str) -> &'static str {
    STATE_COLOURS
        .iter()
        .find(|(s, _)| *s == state)
        .map_or(NEUTRAL, |(_, c)| c)
}

/// A value safe in ids, attribute values and CSS selectors alike: states and engine names
/// are short words, so anything else maps to `-` (and cannot break out of a rule).
fn slug(value: &str) -> String {
    let slug: String = value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if slug.is_empty() {
        "none".to_owned()
    } else {
        slug
    }
}

fn percent(share: f64) -> String {
    let percent = share * 100.0;
    if percent > 0.0 && percent < 0.1 {
        "<0.1%".replace('<', "&lt;")
    } else {
        format!("{percent:.1}%")
    }
}

/// Text and attribute escaping: everything from a manifest, a lockfile or a service is data.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#":root{color-scheme:light;--ink:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
.top{position:sticky;top:0;z-index:1;background:#fff;border-bottom:1px solid var(--line);padding:10px 16px}
h1{font-size:18px;margin:0 0 2px}
h1 .manifest{font-weight:400;color:var(--muted);font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:14px;margin-left:6px}
.counts{margin:0 0 6px;color:var(--muted)}
.controls{display:flex;flex-wrap:wrap;gap:8px 20px}
fieldset{border:0;padding:0;margin:0;display:flex;flex-wrap:wrap;gap:4px 12px;align-items:center}
legend{float:left;font-weight:600;margin-right:4px}
label{cursor:pointer;white-space:nowrap}
.n{color:var(--muted)}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff;background:var(--tone)}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(372px,1fr));align-items:start;gap:12px;padding:12px 16px}
body:has(#sort-change:checked) .card{order:var(--by-change)}
body:has(#sort-name:checked) .card{order:var(--by-name)}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 12px;content-visibility:auto;contain-intrinsic-size:auto 260px}
.card[data-state=failed]{border-color:#cf222e}
.card>header{display:flex;justify-content:space-between;align-items:center;gap:8px;margin-bottom:8px}
h2{font:600 13px ui-monospace,SFMono-Regular,Menlo,monospace;margin:0;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.row{display:flex;gap:8px;align-items:flex-start}
.diff{margin-top:8px;padding-top:8px;border-top:1px dashed var(--line);align-items:center}
figure{margin:0;flex:1 1 0;min-width:0;max-width:136px;text-align:center}
figure img,figure.missing span{display:block;width:100%;height:auto;aspect-ratio:1;object-fit:contain;background:#eaeef2;border-radius:4px}
figure.missing span{display:flex;align-items:center;justify-content:center;color:var(--muted);font-size:12px;border:1px dashed var(--line)}
figcaption{font-size:11px;color:var(--muted);margin-top:2px}
.change{margin:0;flex:1 1 0;text-align:center;font-size:12px;color:var(--muted)}
.change strong{display:block;font-size:22px;color:var(--ink)}
.change meter{width:100%}
dl{display:grid;grid-template-columns:auto 1fr;gap:1px 8px;margin:8px 0 0;font-size:12px}
dt{color:var(--muted)}
dd{margin:0;overflow-wrap:anywhere}
.error{margin:6px 0 0;padding:6px 8px;background:#ffebe9;border-radius:4px;color:#82071e;font-size:12px;overflow-wrap:anywhere}
.problem{margin:6px 0 0;color:var(--muted);font-size:12px}
.empty{color:var(--muted)}
footer{padding:4px 16px 16px;color:var(--muted);font-size:12px}
"#;

/// Records each preview's decoded size in `data-natural`, so a DOM dump shows whether every
/// image decoded. The page does not need it.
const SCRIPT: &str = "<script>addEventListener('load',function(){for(var i of document.images){i.dataset.natural=i.naturalWidth+'x'+i.naturalHeight}document.body.dataset.loaded=document.images.length})</script>\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn card(key: &str, state: &str, changed: Option<f64>) -> Card {
        Card {
            key: key.to_owned(),
            input: Some(format!("photos/{key}")),
            input_path: None,
            mask_path: None,
            engine: "local".to_owned(),
            model: "u2netp".to_owned(),
            state: state.to_owned(),
            reasons: Vec::new(),
            error: None,
            previous: None,
            changed,
        }
    }

    #[test]
    fn everything_from_the_data_is_escaped() {
        let mut hostile = card("<img src=x onerror=alert(1)>.png", "failed", None);
        hostile.error = Some("\"><script>alert(2)</script>".to_owned());
        hostile.engine = "x\"]{}body{display:none}".to_owned();
        let html = render(&[hostile], "<b>manifest</b>", "now");
        assert!(!html.contains("<img src=x"), "{html}");
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<b>manifest"), "{html}");
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;.png"));
        assert!(html.contains("data-engine=\"x----body-display-none-\""));
    }

    #[test]
    fn every_state_gets_a_badge_and_a_filter_even_new_ones() {
        let cards = [
            card("a.png", "updated", Some(0.2)),
            card("b.png", "unchanged", None),
            card("c.png", "conflict", None),
            card("d.png", "brand_new_state", None),
        ];
        let html = render(&cards, "m.yaml", "now");
        for state in ["updated", "unchanged", "conflict", "brand_new_state"] {
            assert!(
                html.contains(&format!("id=\"state-{state}\" checked")),
                "{state}"
            );
            assert!(
                html.contains(&format!(
                    "body:has(#state-{state}:not(:checked)) .card[data-state=\"{state}\"]{{display:none}}"
                )),
                "{state}"
            );
            assert!(html.contains(&format!("data-state=\"{state}\"")), "{state}");
        }
        assert!(html.contains("id=\"engine-local\" checked"));
        assert_eq!(html.matches("<article").count(), 4);
    }

    #[test]
    fn changed_cards_rank_first_when_sorting_by_change() {
        let cards = [
            card("a.png", "unchanged", None),
            card("b.png", "updated", Some(0.05)),
            card("c.png", "updated", Some(0.5)),
            card("d.png", "created", None),
        ];
        assert_eq!(rank_by_change(&cards), vec![3, 1, 0, 2]);
        assert_eq!(rank_by_name(&cards), vec![0, 1, 2, 3]);
        // Shown by state: updated, created, unchanged.
        assert_eq!(display_order(&cards), vec![1, 2, 3, 0]);
    }

    #[test]
    fn shares_read_as_percentages() {
        assert_eq!(percent(0.1234), "12.3%");
        assert_eq!(percent(0.0), "0.0%");
        assert_eq!(percent(0.0004), "&lt;0.1%");
    }
}
