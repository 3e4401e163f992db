//! Globs over object keys (`s3://bucket/photos/**/*.jpg`), with the rules of local globs:
//! `*`, `?` and `[...]` within one `/`-separated level, `**` any number of levels, hidden
//! names (a level starting with `.`) matched only literally. The literal levels before the
//! first wildcard are the prefix that is listed.

use super::glob::OPTIONS;

enum Part {
    Literal(String),
    Pattern(glob::Pattern),
    AnyDepth,
}

pub struct KeyPattern {
    parts: Vec<Part>,
    prefix: String,
}

impl KeyPattern {
    pub fn new(pattern: &str) -> Result<Self, glob::PatternError> {
        glob::Pattern::new(pattern)?;
        let mut parts = Vec::new();
        for level in pattern.split('/').filter(|l| !l.is_empty() && *l != ".") {
            parts.push(if level == "**" {
                Part::AnyDepth
            } else if level.contains(['*', '?', '[']) {
                Part::Pattern(glob::Pattern::new(level)?)
            } else {
                Part::Literal(level.to_owned())
            });
        }
        // The folder to list: the literal levels, but never the last one (the name itself,
        // for a pattern without wildcards).
        let literal = parts
            .iter()
            .take(parts.len().saturating_sub(1))
            .map_while(|p| match p {
                Part::Literal(l) => Some(l.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("/");
        Ok(Self {
            parts,
            prefix: literal,
        })
    }

    /// The key prefix (whole levels, no trailing `/`) that holds every match.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether `key` matches: a table over (pattern part, key level), so that many `**` in a
    /// hostile pattern cost rows, not an exponential search.
    pub fn matches(&self, key: &str) -> bool {
        let levels: Vec<&str> = key.split('/').collect();
        if levels.iter().any(|l| l.is_empty()) {
            return false;
        }
        let (p, l) = (self.parts.len(), levels.len());
        // rest[i][j]: parts[i..] match levels[j..].
        let mut rest = vec![vec![false; l + 1]; p + 1];
        rest[p][l] = true;
        for i in (0..p).rev() {
            for j in (0..=l).rev() {
                let level = levels.get(j);
                rest[i][j] = match &self.parts[i] {
                    Part::Literal(name) => level == Some(&name.as_str()) && rest[i + 1][j + 1],
                    Part::Pattern(pattern) => {
                        level.is_some_and(|level| pattern.matches_with(level, OPTIONS))
                            && rest[i + 1][j + 1]
                    }
                    Part::AnyDepth => {
                        rest[i + 1][j]
                            || level.is_some_and(|level| !level.starts_with('.')) && rest[i][j + 1]
                    }
                };
            }
        }
        rest[0][0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_matches() {
        let p = KeyPattern::new("photos/**/*.jpg").unwrap();
        assert_eq!(p.prefix(), "photos");
        for key in ["photos/a.jpg", "photos/x/y/b.jpg"] {
            assert!(p.matches(key), "{key}");
        }
        for key in [
            "photos/a.png",
            "other/a.jpg",
            "photos/.hidden/c.jpg",
            "photos/.d.jpg",
            "photos//e.jpg",
        ] {
            assert!(!p.matches(key), "{key}");
        }
        let p = KeyPattern::new("in/*.png").unwrap();
        assert_eq!(p.prefix(), "in");
        assert!(p.matches("in/cat.png") && !p.matches("in/sub/cat.png"));
        let p = KeyPattern::new("in/cat.png").unwrap();
        assert_eq!(p.prefix(), "in");
        assert!(p.matches("in/cat.png"));
        assert_eq!(KeyPattern::new("*.png").unwrap().prefix(), "");
        assert!(KeyPattern::new("in/[.png").is_err());
    }

    #[test]
    fn many_any_depths_stay_cheap() {
        let p = KeyPattern::new(&"**/".repeat(40).to_string().replace("//", "/")).unwrap();
        let key = vec!["a"; 200].join("/");
        assert!(!p.matches(&format!("{key}/")));
        assert!(p.matches(&key));
    }
}
