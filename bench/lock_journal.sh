#!/usr/bin/env bash
# Lockfile recording benchmark: the bytes written and the time per image of what `apply`
# does after each finished image, for 1,000 and 10,000 images, with the journal, and (for
# fewer images, it is quadratic) with the old rewrite of the whole lockfile per image.
#
#   bench/lock_journal.sh [--dir DIR]
#
# Drives the real LockStore API (record, then save) with synthetic entries the size of a
# local-engine entry; no model runs, so this isolates the recording layer. Every record
# is fsynced as in a real run: DIR (default target/) should be on the disk a run uses.
# PROFILE=release uses the release profile (default: dev, whose dependencies are
# optimized; serde_json, blake3 and the fsyncs are the cost here).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DIR_ARGS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --dir) DIR_ARGS=(--dir "${2:?--dir needs a value}"); shift 2 ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "lock_journal.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cargo bench --locked --profile "${PROFILE:-dev}" --bench lock_journal -- \
    --images 1000 --images 10000 --old 250 --old 1000 "${DIR_ARGS[@]}" \
    | grep '^{' | tee "$TMP/results.jsonl"

python3 - "$TMP/results.jsonl" <<'PYEOF'
import json, sys

rows = [json.loads(line) for line in open(sys.argv[1])]
print()
print(f"{'mode':<8} {'images':>7} {'bytes written':>14} {'bytes/image':>12} {'us/image':>9} {'lockfile':>10}")
for r in rows:
    print(f"{r['mode']:<8} {r['images']:>7} {r['bytes_written'] or 0:>14} "
          f"{r['bytes_per_image'] or 0:>12.0f} {r['us_per_image']:>9.0f} {r['lock_bytes']:>10}")

def ratio(mode, key):
    runs = sorted((r for r in rows if r["mode"] == mode), key=lambda r: r["images"])
    if len(runs) < 2 or not runs[0][key]:
        return None
    small, large = runs[0], runs[-1]
    return small["images"], large["images"], large[key] / small[key]

print()
for mode in ("journal", "rewrite"):
    for key in ("bytes_per_image", "us_per_image"):
        r = ratio(mode, key)
        if r:
            print(f"{mode}: {key} at {r[1]} images / at {r[0]} images = {r[2]:.2f}x")
PYEOF
