#!/usr/bin/env bash
# The visual report's size bound: a synthetic manifest of N images (default 1,000: the example
# photographs copied under distinct names, each with a mask), `maskflow report` over it, then
# headless Chromium opening the page. Prints the report's size, the time to write it, and
# Chromium's first contentful paint and load event for it and for the 6-image report (as a
# ratio). Needs chromium (apt-get install chromium) and a built maskflow (cargo build
# --locked; MASKFLOW=path picks another binary).
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
mapfile -t photos < <(cd examples/photos && ls ./*.png | sed 's|^\./||')
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

# First contentful paint and the load event, read from the page by a probe script added to
# a copy (the report itself only records image sizes).
paint() {
  local page=$1 probe=$work/probe.html profile
  profile=$(mktemp -d)
  sed 's|</body>|<script>addEventListener("load",function(){var p=performance.getEntriesByName("first-contentful-paint")[0],n=performance.getEntriesByType("navigation")[0];document.body.setAttribute("data-fcp",p?Math.round(p.startTime):-1);document.body.setAttribute("data-load",Math.round(n.loadEventStart))})</script></body>|' "$page" >"$probe"
  "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --window-size=1280,1000 \
    --dump-dom "file://$probe" 2>/dev/null |
    grep -o 'data-fcp="[0-9-]*" data-load="[0-9]*"\|data-load="[0-9]*" data-fcp="[0-9-]*"' | head -1
  rm -rf "$profile"
}

small=$(paint "$work/examples/report.html")
big=$(paint "$work/big/report.html")
fcp() { grep -o 'data-fcp="[0-9-]*"' <<<"$1" | tr -dc '0-9-'; }
load() { grep -o 'data-load="[0-9]*"' <<<"$1" | tr -dc '0-9'; }
echo "images:                 $count"
echo "report size:            $size bytes ($((size / count)) per image)"
printf 'written in:             %.2f s (%s)\n' "$(echo "$end - $start" | bc)" "$bin"
echo "6 images:               first contentful paint $(fcp "$small") ms, load $(load "$small") ms"
echo "$count images:            first contentful paint $(fcp "$big") ms, load $(load "$big") ms"
echo "ratio ($count / 6):       first paint $(echo "scale=2; $(fcp "$big") / $(fcp "$small")" | bc)x, load $(echo "scale=2; $(load "$big") / $(load "$small")" | bc)x"
