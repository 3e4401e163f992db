#!/usr/bin/env bash
# Local-engine benchmark: maskflow (rten) against the reference (rembg's u2netp session
# on Python onnxruntime), same images, same run count, same thread count.
#
#   bench/local_engine.sh [--runs N] [--warmup W] [--threads T] [IMAGE...]
#
# Defaults: --runs 10 --warmup 2 --threads 1, images examples/photos/*.
# Creates (or reuses) a venv in target/bench-venv with bench/requirements.txt (PyPI),
# runs bench/reference_bench.py, then
#   cargo bench --bench local_engine -- --runs N --threads T IMAGE...
# Both print one JSON line per image:
#   {"runtime":...,"image":"<file name>","median_ms":...,"runs":N,"threads":T}
# and the two are joined by file name into a table with the ratio maskflow/reference
# and its geometric mean. Timings are medians in ms of the whole per-image mask
# computation with the model already loaded.
#
# Note: OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE may be set on this machine. They are left
# alone: onnxruntime uses its own MLAS kernels and rten its own, not OpenBLAS, and the
# reference's numpy steps are element-wise.
set -euo pipefail

usage() {
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
}

RUNS=10
WARMUP=2
THREADS=1
IMAGES=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) RUNS="${2:?--runs needs a value}"; shift 2 ;;
        --warmup) WARMUP="${2:?--warmup needs a value}"; shift 2 ;;
        --threads) THREADS="${2:?--threads needs a value}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        --) shift; IMAGES+=("$@"); break ;;
        -*) echo "local_engine.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
        *) IMAGES+=("$1"); shift ;;
    esac
done
for v in "$RUNS" "$WARMUP" "$THREADS"; do
    [[ "$v" =~ ^[0-9]+$ ]] || { echo "local_engine.sh: not a number: $v" >&2; exit 2; }
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [[ ${#IMAGES[@]} -eq 0 ]]; then
    IMAGES=(examples/photos/*.png examples/photos/*.jpg)
fi
ABS_IMAGES=()
for img in "${IMAGES[@]}"; do
    [[ -f "$img" ]] || { echo "local_engine.sh: no such image: $img" >&2; exit 2; }
    ABS_IMAGES+=("$(cd "$(dirname "$img")" && pwd)/$(basename "$img")")
done

# --- the reference's venv -------------------------------------------------------------
VENV="$ROOT/target/bench-venv"
PY="$VENV/bin/python"
if [[ ! -x "$PY" ]] || ! "$PY" -c 'import sys' >/dev/null 2>&1; then
    echo "==> creating $VENV" >&2
    rm -rf "$VENV"
    mkdir -p "$ROOT/target"
    python3 -m venv "$VENV"
fi
STAMP="$VENV/.bench-requirements.txt"
if ! cmp -s bench/requirements.txt "$STAMP"; then
    echo "==> pip install -r bench/requirements.txt" >&2
    "$PY" -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt
    cp bench/requirements.txt "$STAMP"
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# --- reference: rembg SimpleSession on onnxruntime ------------------------------------
echo "==> reference (onnxruntime): runs=$RUNS warmup=$WARMUP threads=$THREADS" >&2
"$PY" bench/reference_bench.py --runs "$RUNS" --warmup "$WARMUP" --threads "$THREADS" \
    "${ABS_IMAGES[@]}" | tee "$TMP/reference.jsonl"

# --- maskflow: rten -------------------------------------------------------------------
echo "==> maskflow (rten): cargo bench --bench local_engine" >&2
cargo bench --bench local_engine -- --runs "$RUNS" --threads "$THREADS" \
    "${ABS_IMAGES[@]}" | tee "$TMP/maskflow.jsonl"

# --- join ------------------------------------------------------------------------------
"$PY" - "$TMP/reference.jsonl" "$TMP/maskflow.jsonl" <<'PYEOF'
import json, math, sys

def load(path, runtime_hint):
    rows = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue  # cargo/libtest chatter
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "image" in r and "median_ms" in r:
                rows[r["image"]] = r
    if not rows:
        sys.exit(f"no JSON result lines from the {runtime_hint} benchmark")
    return rows

ref = load(sys.argv[1], "reference")
mf = load(sys.argv[2], "maskflow")
images = [i for i in ref if i in mf]
missing = sorted(set(ref) ^ set(mf))
if missing:
    print(f"warning: not in both results: {', '.join(missing)}", file=sys.stderr)
if not images:
    sys.exit("no image in both results")

any_ref = ref[images[0]]
any_mf = mf[images[0]]
print()
print(f"reference = {any_ref.get('runtime')}, maskflow = {any_mf.get('runtime')}; "
      f"runs = {any_ref.get('runs')}/{any_mf.get('runs')}, "
      f"threads = {any_ref.get('threads')}/{any_mf.get('threads')}; median ms per image")
w = max(len("image"), max(len(i) for i in images))
print(f"{'image':<{w}}  {'reference ms':>12}  {'maskflow ms':>11}  {'ratio':>6}")
logs = []
for i in images:
    a, b = float(ref[i]["median_ms"]), float(mf[i]["median_ms"])
    ratio = b / a
    logs.append(math.log(ratio))
    print(f"{i:<{w}}  {a:>12.1f}  {b:>11.1f}  {ratio:>6.2f}")
print(f"{'geomean':<{w}}  {'':>12}  {'':>11}  {math.exp(sum(logs) / len(logs)):>6.2f}")
PYEOF
