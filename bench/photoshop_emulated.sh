#!/usr/bin/env bash
# Drives N images through `maskflow emulate` (Adobe's 3-submissions-per-3-s limit, a job latency
# of --latency) twice, and prints both against the rate-limit floor, N x 3 s / 3 + one job
# latency (the mean one, for a range):
#   1. maskflow apply with the photoshop engine (sensei API, default limits), release build;
#   2. the official JS SDK (@adobe/aio-lib-photoshop-api) driven as its docs drive it: one
#      createMask + pollUntilDone at a time (on --sdk-images of the images, default all).
# Each emulator starts fresh, so its counters are that driver's. The script checks at exit
# that none of the servers it started is left running.
# Needs: cargo, python3, node + npm.
# Usage: bench/photoshop_emulated.sh [--images N] [--latency 1s|3s..12s] [--sdk-images N] [--skip-sdk]
#                                    [--bin PATH]   (a maskflow binary to use instead of building one)
set -euo pipefail

images=200
latency=1s
sdk_images=
run_sdk=1
bin=
while [ $# -gt 0 ]; do
  case "$1" in
    --images) images="$2"; shift 2 ;;
    --latency) latency="$2"; shift 2 ;;
    --sdk-images) sdk_images="$2"; shift 2 ;;
    --skip-sdk) run_sdk=0; shift ;;
    --bin) bin="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
sdk_images="${sdk_images:-$images}"
submits=3
window=3

repo="$(cd "$(dirname "$0")/.." && pwd)"
if [ -z "$bin" ]; then
  # A release build, so that the client's own CPU is not what is measured.
  cargo build --locked --release --quiet --manifest-path "$repo/Cargo.toml"
  bin="$repo/target/release/maskflow"
fi
work="$(mktemp -d)"
pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  local left=()
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then left+=("$pid"); fi
  done
  rm -rf "$work"
  if [ ${#left[@]} -gt 0 ] || [ -n "$(jobs -pr)" ]; then
    echo "error: the benchmark left processes running: ${left[*]} $(jobs -pr | tr '\n' ' ')" >&2
    exit 1
  fi
  exit "$status"
}
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

# Runs in this shell (never inside $( … )), so that its pid reaches `pids` and the cleanup.
start_emulator() { # $1: file for its output
  "$bin" emulate --format json --port 0 --latency "$latency" --submit-limit "$submits" \
    --submit-window "${window}s" > "$1" &
  pids+=($!)
  until [ -s "$1" ]; do sleep 0.1; done
}
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
stats() { curl -fsS "$1/_emulator/stats"; }
# The mean job latency in seconds, of `2s`, `500ms` or `3s..12s`.
mean_latency() {
  python3 - "$1" <<'PY'
import re, sys
def seconds(text):
    number, unit = re.fullmatch(r"([0-9.]+)(ms|s|m|h)", text.strip()).groups()
    return float(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
ends = [seconds(t) for t in sys.argv[1].split("..")]
print(sum(ends) / len(ends))
PY
}
job_latency="$(mean_latency "$latency")"

report() { # $1 label, $2 seconds, $3 stats json, $4 images
  python3 - "$1" "$2" "$3" "$4" "$submits" "$window" "$job_latency" "$latency" <<'PY'
import json, sys
label, seconds, stats, n = sys.argv[1], float(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4])
submits, window, latency, shown = int(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7]), sys.argv[8]
floor = n * window / submits + latency
jobs = max(stats["submissions"], 1)
per_job = stats["status_requests"] / jobs
print(f"{label:<32} {seconds:8.1f} s  floor {floor:6.1f} s  {seconds / floor:5.2f}x floor  "
      f"{per_job:5.2f} status/job  {stats['rate_limited']:4d} x 429  "
      f"{stats['submissions']:4d} submitted  {stats['duplicate_submissions']} duplicates  "
      f"max {stats['max_in_flight']} in flight")
print(f"| {label} | {shown} | {n} | {seconds:.1f} s | {floor:.1f} s | {seconds / floor:.2f}× | "
      f"{per_job:.2f} | {stats['rate_limited']} | {stats['duplicate_submissions']} | {stats['max_in_flight']} |")
PY
}

echo "images: $images   job latency: $latency   limit: $submits submissions / ${window} s"
# Other work on the machine slows the emulator's own masking: show how busy it was.
load() { echo "load average ($1): $(cut -d' ' -f1-3 /proc/loadavg)"; }
load "before"

# 1. maskflow
start_emulator "$work/emu1.out"
line="$(head -n1 "$work/emu1.out")"
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
report "maskflow apply" "$(echo "$end - $start" | bc)" "$(stats "$base")" "$images"
load "after maskflow"

# 2. the official SDK, one job at a time
if [ "$run_sdk" = 1 ]; then
  (cd "$repo/tests/node" && npm ci --silent --no-audit --no-fund)
  start_emulator "$work/emu2.out"
  line="$(head -n1 "$work/emu2.out")"
  base="$(field "$line" base_url)"
  for f in "$work"/store/in/*.png; do echo "$store/in/$(basename "$f")"; done > "$work/all-inputs.txt"
  head -n "$sdk_images" "$work/all-inputs.txt" > "$work/inputs.txt"
  start=$(date +%s.%N)
  EMULATOR_URL="$base" CLIENT_ID="$(field "$line" client_id)" CLIENT_SECRET="$(field "$line" client_secret)" \
    INPUT_URLS_FILE="$work/inputs.txt" OUTPUT_URL_TEMPLATE="$store/out-sdk/{i}.png" \
    node "$repo/tests/node/sdk_batch.mjs" > "$work/sdk.json"
  end=$(date +%s.%N)
  report "SDK createMask+pollUntilDone" "$(echo "$end - $start" | bc)" "$(stats "$base")" "$sdk_images"
  load "after the SDK"
fi
