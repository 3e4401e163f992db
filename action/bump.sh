#!/usr/bin/env bash
# Pins the action to a released maskflow: writes VERSION to dist/version and puts the
# release's archive checksums (its SHA256SUMS, as `sha256sum` prints them) into
# dist/checksums.txt, replacing any lines of that version. Run by the release workflow's
# bump-action job; by hand: action/bump.sh 0.2.0 path/to/SHA256SUMS
set -euo pipefail

version=${1:?usage: action/bump.sh VERSION SHA256SUMS}
sums=${2:?usage: action/bump.sh VERSION SHA256SUMS}
version=${version#v}
dist="$(dirname "$0")/../dist"

lines=$(grep -E "^[0-9a-f]{64} [ *]maskflow-${version//./\\.}-[A-Za-z0-9_.-]+\.(tar\.gz|zip)$" "$sums" || true)
if [[ -z $lines ]]; then
  echo "$sums has no archive of maskflow $version" >&2
  exit 1
fi
{
  grep -vE " [ *]maskflow-${version//./\\.}-" "$dist/checksums.txt" || true
  printf '%s\n' "$lines" | sed 's/ \*/  /' | LC_ALL=C sort -k2
} >"$dist/checksums.txt.new"
mv "$dist/checksums.txt.new" "$dist/checksums.txt"
printf '%s\n' "$version" >"$dist/version"
echo "action pinned to maskflow $version ($(printf '%s\n' "$lines" | wc -l | tr -d ' ') archives)"
