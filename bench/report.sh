#!/usr/bin/env bash
# The visual report's size bound: a synthetic manifest of N images (default 1,000: the example
# photographs copied under distinct names, each with a mask), `maskflow report` over it, then
# headless Chromium opening the page. Prints the report's size, the time to write it, and
# Chromium's first contentful paint and load event for it and for the 6-image report (as a
# ratio). Needs chromium (apt-get install chromium), Node.js 20+ and a built maskflow
# (cargo build --locked; MASKFLOW=path picks another binary).
#
#   bench/report.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-1000}
bin=${MASKFLOW:-target/debug/maskflow}
chromium=${CHROMIUM:-chromium}
repo=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One set of masks from the six examples, made once by the local engine.
mkdir -p "$work/examples"
cp -r examples/photos examples/maskflow.yaml "$work/examples/"
"$bin" apply --manifest "$work/examples/maskflow.yaml" --report "$work/examples/report.html" 2>/dev/null

# N images, cycling through the five example PNGs, each with its mask.
mkdir -p "$work/big/photos" "$work/big/masks"
photos=()
for path in examples/photos/*.png; do photos+=("$(basename "$path")"); done
for ((i = 0; i < count; i++)); do
  photo=${photos[i % ${#photos[@]}]}
  name=$(printf 'img-%04d-%s' "$i" "$photo")
  cp "examples/photos/$photo" "$work/big/photos/$name"
  cp "$work/examples/masks/$photo" "$work/big/masks/$name"
done
printf 'version: 1\nimages:\n  - glob: "photos/*.png"\n' >"$work/big/maskflow.yaml"

start=$(date +%s.%N)
(cd "$work/big" && "$repo/$bin" report --output report.html 2>/dev/null)
end=$(date +%s.%N)
size=$(stat -c %s "$work/big/report.html")

# First contentful paint and the load event, medians of 5 openings in a fresh browser
# (bench/paint.mjs reads them from the page over the DevTools protocol).
small=$(CHROMIUM=$chromium node bench/paint.mjs "file://$work/examples/report.html" 5)
big=$(CHROMIUM=$chromium node bench/paint.mjs "file://$work/big/report.html" 5)
field() { sed -E "s/.*\"$2\":([0-9]+).*/\1/" <<<"$1"; }
echo "images:                 $count"
echo "report size:            $size bytes ($((size / count)) per image)"
printf 'written in:             %.2f s (%s)\n' "$(echo "$end - $start" | bc)" "$bin"
echo "6 images:               first contentful paint $(field "$small" fcp) ms, load event $(field "$small" load) ms"
echo "$count images:            first contentful paint $(field "$big" fcp) ms, load event $(field "$big" load) ms"
echo "ratio ($count / 6):       first paint $(echo "scale=2; $(field "$big" fcp) / $(field "$small" fcp)" | bc)x, load $(echo "scale=2; $(field "$big" load) / $(field "$small" load)" | bc)x"
