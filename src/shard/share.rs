//! A shard's part of the organization's submission limit. Adobe counts submissions per
//! organization, and the shards of one run (`apply --shard K/N` on N runners) share it
//! without talking to each other, so each may only use its share.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Shard;
use crate::manifest::{Limits, ShardShare};

/// The submission quota one shard allows itself, and where it comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SubmitShare {
    /// `K/N`, as given to `--shard`.
    pub shard: String,
    /// `limits.shard_share`.
    pub mode: ShardShare,
    /// At most this many submissions ...
    pub submits: u32,
    /// ... in any window of this many seconds.
    pub window_seconds: f64,
    /// The organization's limit: `limits.submits` per `limits.window_seconds`.
    pub limit_submits: u32,
    pub limit_window_seconds: f64,
}

/// What shard `shard` may submit under `limits`.
///
/// `fair` splits `submits` per window among the N shards in whole submissions: each gets
/// `submits / N`, and the first `submits % N` shards one more, so that the shares add up to
/// exactly the limit and no window can hold more than it, however the shards' submissions
/// fall. With fewer submissions than shards, each shard gets 1 per `window × N / submits`:
/// on average the shards together stay at the limit (they cannot be kept from lining up
/// without talking to each other; a 429 is then waited out as usual).
pub fn submit_share(limits: &Limits, shard: Shard) -> SubmitShare {
    let limit = limits.submits.max(1);
    let (submits, window_seconds) = match limits.shard_share {
        ShardShare::Whole => (limit, limits.window_seconds),
        ShardShare::Fair if u64::from(limit) >= shard.count => {
            let even = u64::from(limit) / shard.count;
            let extra = u64::from(shard.index <= u64::from(limit) % shard.count);
            // At most `limit`, so it fits.
            ((even + extra) as u32, limits.window_seconds)
        }
        ShardShare::Fair => (
            1,
            limits.window_seconds * shard.count as f64 / f64::from(limit),
        ),
    };
    SubmitShare {
        shard: format!("{}/{}", shard.index, shard.count),
        mode: limits.shard_share,
        submits,
        window_seconds,
        limit_submits: limits.submits,
        limit_window_seconds: limits.window_seconds,
    }
}

/// `limits` with the submission quota of `shard`, if any: what the engine is built with.
pub fn shard_limits(limits: &Limits, shard: Option<Shard>) -> Limits {
    let mut limits = limits.clone();
    if let Some(shard) = shard {
        let share = submit_share(&limits, shard);
        limits.submits = share.submits;
        limits.window_seconds = share.window_seconds;
    }
    limits
}

impl SubmitShare {
    /// One sentence for people, e.g. `Shard 2/3 submits at most 1 per 3 s: a fair share of
    /// the organization's 3 per 3 s (limits.shard_share: fair).`
    pub fn describe(&self) -> String {
        let head = format!(
            "Shard {} submits at most {} per {} s",
            self.shard,
            self.submits,
            seconds(self.window_seconds)
        );
        let limit = format!(
            "{} per {} s",
            self.limit_submits,
            seconds(self.limit_window_seconds)
        );
        match self.mode {
            ShardShare::Fair => format!(
                "{head}: a fair share of the organization's {limit} (limits.shard_share: fair)."
            ),
            ShardShare::Whole => {
                format!("{head}: all of limits.submits, {limit} (limits.shard_share: whole).")
            }
        }
    }
}

/// Seconds as people write them: `3`, `1.8`, `0.333`.
fn seconds(value: f64) -> String {
    let rounded = (value * 1000.0).round() / 1000.0;
    format!("{rounded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(submits: u32, window_seconds: f64, shard_share: ShardShare) -> Limits {
        Limits {
            submits,
            window_seconds,
            shard_share,
            ..Limits::default()
        }
    }

    fn shares(submits: u32, window: f64, count: u64) -> Vec<(u32, f64)> {
        (1..=count)
            .map(|index| {
                let share = submit_share(
                    &limits(submits, window, ShardShare::Fair),
                    Shard { index, count },
                );
                (share.submits, share.window_seconds)
            })
            .collect()
    }

    #[test]
    fn fair_shares_add_up_to_the_limit() {
        // Adobe's default, 3 per 3 s, over 3 runners: 1 per 3 s each.
        assert_eq!(shares(3, 3.0, 3), vec![(1, 3.0); 3]);
        assert_eq!(shares(3, 3.0, 1), vec![(3, 3.0)]);
        // Uneven: whole submissions, the remainder to the first shards, never above the limit.
        assert_eq!(shares(5, 3.0, 3), vec![(2, 3.0), (2, 3.0), (1, 3.0)]);
        assert_eq!(shares(3, 3.0, 2), vec![(2, 3.0), (1, 3.0)]);
        for (submits, count) in [(3, 3), (5, 3), (10, 4), (7, 7), (100, 9)] {
            let total: u32 = shares(submits, 1.0, count).iter().map(|s| s.0).sum();
            assert_eq!(total, submits, "{submits} over {count}");
        }
    }

    #[test]
    fn fewer_submits_than_shards_stretch_the_window() {
        // 3 per 3 s over 4 runners: 1 per 4 s each, 3 per 3 s together on average.
        assert_eq!(shares(3, 3.0, 4), vec![(1, 4.0); 4]);
        assert_eq!(shares(1, 2.0, 5), vec![(1, 10.0); 5]);
    }

    #[test]
    fn whole_keeps_the_manifest_limit() {
        let share = submit_share(
            &limits(3, 3.0, ShardShare::Whole),
            Shard { index: 2, count: 4 },
        );
        assert_eq!((share.submits, share.window_seconds), (3, 3.0));
        assert!(share.describe().contains("limits.shard_share: whole"));
    }

    #[test]
    fn the_engine_gets_the_share_only_when_sharded() {
        let manifest = limits(3, 3.0, ShardShare::Fair);
        let alone = shard_limits(&manifest, None);
        assert_eq!((alone.submits, alone.window_seconds), (3, 3.0));
        let sharded = shard_limits(&manifest, Some(Shard { index: 1, count: 4 }));
        assert_eq!((sharded.submits, sharded.window_seconds), (1, 4.0));
        assert_eq!(sharded.in_flight, manifest.in_flight);
    }

    #[test]
    fn describes_the_share() {
        let share = submit_share(
            &limits(3, 3.0, ShardShare::Fair),
            Shard { index: 2, count: 7 },
        );
        assert_eq!(
            share.describe(),
            "Shard 2/7 submits at most 1 per 7 s: a fair share of the organization's 3 per 3 s \
             (limits.shard_share: fair)."
        );
    }
}
