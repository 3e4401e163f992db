#!/usr/bin/env bash
# Drives N images through `maskflow emulate` (1 s job latency, Adobe's 3-submissions-per-3-s
# limit) twice, and prints both against the rate-limit floor (N x 1 s):
#   1. maskflow apply with the photoshop engine (sensei API, default limits);
#   2. the official JS SDK (@adobe/aio-lib-photoshop-api) driven as its docs drive it: one
#      createMask + pollUntilDone at a time.
# Needs: cargo, python3, node + npm. Usage: bench/photoshop_emulated.sh [--images N] [--skip-sdk]
set -euo pipefail

images=200
run_sdk=1
while [ $# -gt 0 ]; do
  case "$1" in
    --images) images="$2"; shift 2 ;;
    --skip-sdk) run_sdk=0; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

repo="$(cd "$(dirname "$0")/.." && pwd)"
cargo build --locked --quiet --manifest-path "$repo/Cargo.toml"
bin="$repo/target/debug/maskflow"
work="$(mktemp -d)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# Inputs: the example photographs, copied round-robin under distinct names.
mkdir -p "$work/store/in"
mapfile -t photos < <(ls "$repo"/examples/photos/*.png)
for i in $(seq 0 $((images - 1))); do
  cp "${photos[$((i % ${#photos[@]}))]}" "$work/store/in/img-$(printf %04d "$i").png"
done

python3 "$repo/bench/storage_server.py" "$work/store" > "$work/storage.json" &
pids+=($!)
until [ -s "$work/storage.json" ]; do sleep 0.1; done
store="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["base_url"])' "$work/storage.json")"

start_emulator() { # $1: file for its first line
  "$bin" emulate --format json --port 0 --latency 1s --submit-limit 3 --submit-window 3s > "$1" &
  pids+=($!)
  until [ -s "$1" ]; do sleep 0.1; done
  head -n1 "$1"
}
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
stats() { curl -fsS "$1/_emulator/stats"; }

report() { # $1 label, $2 seconds, $3 stats json
  python3 - "$1" "$2" "$3" "$images" <<'PY'
import json, sys
label, seconds, stats, n = sys.argv[1], float(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4])
floor = n * 1.0
jobs = max(stats["submissions"], 1)
print(f"{label:<32} {seconds:8.1f} s  {seconds / floor:5.2f}x floor  "
      f"{stats['status_requests'] / jobs:5.2f} status/job  {stats['rate_limited']:4d} x 429  "
      f"{stats['submissions']:4d} submitted  {stats['duplicate_submissions']} duplicates")
PY
}

echo "images: $images   job latency: 1 s   limit: 3 submissions / 3 s   floor: ${images}.0 s"

# 1. maskflow
line="$(start_emulator "$work/emu1.out")"
base="$(field "$line" base_url)"
mkdir -p "$work/project"
{
  echo "version: 1"
  echo "defaults:"
  echo "  engine: photoshop"
  echo "  mask_url: \"$store/out-maskflow/{{ stem }}.png\""
  echo "photoshop:"
  echo "  endpoint: \"$base\""
  echo "  ims: \"$base\""
  echo "images:"
  for f in "$work"/store/in/*.png; do echo "  - input: \"$store/in/$(basename "$f")\""; done
} > "$work/project/maskflow.yaml"
start=$(date +%s.%N)
PHOTOSHOP_CLIENT_ID="$(field "$line" client_id)" PHOTOSHOP_CLIENT_SECRET="$(field "$line" client_secret)" \
  "$bin" apply --manifest "$work/project/maskflow.yaml" --format json > "$work/apply.ndjson"
end=$(date +%s.%N)
report "maskflow apply" "$(echo "$end - $start" | bc)" "$(stats "$base")"

# 2. the official SDK, one job at a time
if [ "$run_sdk" = 1 ]; then
  (cd "$repo/tests/node" && npm ci --silent --no-audit --no-fund)
  line="$(start_emulator "$work/emu2.out")"
  base="$(field "$line" base_url)"
  for f in "$work"/store/in/*.png; do echo "$store/in/$(basename "$f")"; done > "$work/inputs.txt"
  start=$(date +%s.%N)
  EMULATOR_URL="$base" CLIENT_ID="$(field "$line" client_id)" CLIENT_SECRET="$(field "$line" client_secret)" \
    INPUT_URLS_FILE="$work/inputs.txt" OUTPUT_URL_TEMPLATE="$store/out-sdk/{i}.png" \
    node "$repo/tests/node/sdk_batch.mjs" > "$work/sdk.json"
  end=$(date +%s.%N)
  report "SDK createMask+pollUntilDone" "$(echo "$end - $start" | bc)" "$(stats "$base")"
fi
