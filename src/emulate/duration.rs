//! Durations on the command line: `500ms`, `2s`, `1.5s`, `1m`, and ranges of them
//! (`3s..12s`). A tiny parser instead of a crate, because the emulator only needs these few
//! units.

use std::time::Duration;

/// A duration the command line cannot read; each message shows how to write one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("`{text}` has no unit; write e.g. `500ms`, `2s` or `1.5s`")]
    NoUnit { text: String },
    #[error("`{text}` does not start with a number")]
    NoNumber { text: String },
    #[error("unknown unit `{unit}` in `{text}`; use ms, s, m or h")]
    UnknownUnit { text: String, unit: String },
    #[error("`{text}`: {reason}")]
    OutOfRange { text: String, reason: String },
    #[error("`{text}` runs backwards; write the shorter latency first, e.g. `3s..12s`")]
    Backwards { text: String },
}

/// Parses `<number><unit>` with unit `ms`, `s`, `m` or `h`; the number may have a fraction.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| DurationError::NoUnit {
            text: text.to_owned(),
        })?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| DurationError::NoNumber {
        text: text.to_owned(),
    })?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(DurationError::UnknownUnit {
                text: text.to_owned(),
                unit: other.to_owned(),
            });
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| DurationError::OutOfRange {
        text: text.to_owned(),
        reason: e.to_string(),
    })
}

/// A job latency: one duration, or a range each job draws its own from (uniformly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    pub min: Duration,
    pub max: Duration,
}

impl Latency {
    pub fn fixed(latency: Duration) -> Self {
        Self {
            min: latency,
            max: latency,
        }
    }

    /// One job's latency.
    pub fn draw(&self, rng: &mut fastrand::Rng) -> Duration {
        self.min + (self.max - self.min).mul_f64(rng.f64())
    }

    /// The middle of the range, what a job takes on average.
    pub fn mean(&self) -> Duration {
        self.min + (self.max - self.min) / 2
    }
}

/// Parses `2s` or `3s..12s` (low end first).
pub fn parse_latency(text: &str) -> Result<Latency, DurationError> {
    match text.split_once("..") {
        None => parse(text).map(Latency::fixed),
        Some((low, high)) => {
            let (min, max) = (parse(low)?, parse(high)?);
            if min > max {
                return Err(DurationError::Backwards {
                    text: text.to_owned(),
                });
            }
            Ok(Latency { min, max })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_are_one_duration_or_a_range() {
        let s = Duration::from_secs;
        assert_eq!(parse_latency("2s"), Ok(Latency::fixed(s(2))));
        let range = parse_latency("3s..12s").unwrap();
        assert_eq!(
            (range.min, range.max, range.mean()),
            (s(3), s(12), Duration::from_millis(7500))
        );
        let mut rng = fastrand::Rng::with_seed(1);
        let draws: Vec<Duration> = (0..200).map(|_| range.draw(&mut rng)).collect();
        assert!(draws.iter().all(|d| (s(3)..=s(12)).contains(d)));
        assert!(draws.iter().any(|d| *d < s(5)) && draws.iter().any(|d| *d > s(10)));
        assert_eq!(Latency::fixed(s(2)).draw(&mut rng), s(2));
        for bad in ["12s..3s", "3s..", "..3s", "3s..12"] {
            assert!(parse_latency(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("0s"), Ok(Duration::ZERO));
        assert_eq!(parse("86399s"), Ok(Duration::from_secs(86399)));
        assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse(" 1h "), Ok(Duration::from_secs(3600)));
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for bad in ["", "2", "s", "1.2.3s", "-1s", "2 s", "5d", "abc"] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
