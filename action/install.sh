#!/usr/bin/env bash
# Step 1 of action.yml: put a maskflow of the wanted version within reach.
#
#   1. a `maskflow` already on PATH whose `--version` is the wanted one is used as it is;
#   2. otherwise the release archive for this runner is downloaded from the GitHub release of
#      the action's repository and checked against dist/checksums.txt (a mismatch fails);
#   3. when there is no such archive (no checksum line for this version and target, no
#      release in this repository - a fork or `uses: ./` - or no prebuilt target), the step
#      says so through its `method=build` output, and action/build.sh builds from source.
#
# Environment (set by action.yml): MASKFLOW_VERSION (may be empty: the pinned
# dist/version), ACTION_REPOSITORY, GITHUB_ACTION_PATH, RUNNER_OS, RUNNER_ARCH, RUNNER_TEMP,
# GITHUB_SERVER_URL, GITHUB_OUTPUT, GITHUB_PATH.
set -euo pipefail

action_path=${GITHUB_ACTION_PATH:?}
output() { printf '%s=%s\n' "$1" "$2" >>"${GITHUB_OUTPUT:?}"; }
note() { printf 'maskflow-action: %s\n' "$*" >&2; }

version=${MASKFLOW_VERSION:-}
version=${version#v}
if [[ -z $version ]]; then
  version=$(tr -d ' \r\n' <"$action_path/dist/version")
fi
if [[ ! $version =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]]; then
  echo "::error title=maskflow action::version \`$version\` is not a maskflow version (like 0.1.0)"
  exit 1
fi
output version "$version"

exe=maskflow
[[ ${RUNNER_OS:-} == Windows ]] && exe=maskflow.exe

# 1. Already installed?
if found=$(command -v maskflow 2>/dev/null) && [[ $("$found" --version 2>/dev/null) == "maskflow $version" ]]; then
  note "using $found (maskflow $version, already on PATH)"
  output method path
  output bin "$found"
  exit 0
fi

# 2. A release archive for this runner?
case "${RUNNER_OS:-}/${RUNNER_ARCH:-}" in
  Linux/X64) target=x86_64-unknown-linux-gnu ext=tar.gz ;;
  Linux/ARM64) target=aarch64-unknown-linux-gnu ext=tar.gz ;;
  macOS/X64) target=x86_64-apple-darwin ext=tar.gz ;;
  macOS/ARM64) target=aarch64-apple-darwin ext=tar.gz ;;
  Windows/X64) target=x86_64-pc-windows-msvc ext=zip ;;
  *) target='' ext='' ;;
esac

build() {
  note "$1; building maskflow $version from the action's source"
  local root=${RUNNER_TEMP:?}/maskflow-build
  output method build
  output root "$root"
  output cache-key "maskflow-build-${RUNNER_OS}-${RUNNER_ARCH}-$(source_hash)"
  exit 0
}

# What the build depends on: the lockfile, the manifest and every source and model file.
source_hash() {
  (
    cd "$action_path"
    {
      printf '%s\n' Cargo.lock Cargo.toml
      find src models -type f 2>/dev/null | LC_ALL=C sort || true
    } | while IFS= read -r file; do
      [[ -f $file ]] && printf '%s %s\n' "$(sha256 "$file")" "$file"
    done | sha256_stdin
  )
}

sha256() {
  if command -v sha256sum >/dev/null; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

sha256_stdin() {
  if command -v sha256sum >/dev/null; then
    sha256sum | cut -d' ' -f1
  else
    shasum -a 256 | cut -d' ' -f1
  fi
}

[[ -n $target ]] || build "no prebuilt maskflow for ${RUNNER_OS:-?}/${RUNNER_ARCH:-?}"
asset="maskflow-$version-$target.$ext"
expected=$(awk -v name="$asset" '$1 !~ /^#/ && ($2 == name || $2 == "*" name) { print $1; exit }' \
  "$action_path/dist/checksums.txt")
[[ -n $expected ]] || build "no checksum for $asset in the action's dist/checksums.txt"
repository=${ACTION_REPOSITORY:-}
[[ -n $repository ]] || build "the action runs from a local path (uses: ./), not a release"

url="${GITHUB_SERVER_URL:-https://github.com}/$repository/releases/download/v$version/$asset"
work=$(mktemp -d "${RUNNER_TEMP:?}/maskflow-download.XXXXXX")
if ! curl --fail --silent --show-error --location --retry 3 --output "$work/$asset" "$url"; then
  build "could not download $url (no such release in $repository?)"
fi
actual=$(sha256 "$work/$asset")
if [[ $actual != "$expected" ]]; then
  echo "::error title=maskflow action::$asset has sha256 $actual, but the action expects $expected; refusing to run it"
  exit 1
fi
note "downloaded $asset (sha256 $actual, as expected)"

dir="${RUNNER_TEMP:?}/maskflow-$version-$target"
rm -rf "$dir"
mkdir -p "$dir"
if [[ $ext == zip ]]; then
  if command -v unzip >/dev/null; then
    unzip -q -o "$work/$asset" -d "$dir"
  else
    7z x -y "-o$dir" "$work/$asset" >/dev/null
  fi
else
  tar -xzf "$work/$asset" -C "$dir"
fi
rm -rf "$work"
bin=$(find "$dir" -type f -name "$exe" | head -n 1)
[[ -n $bin ]] || { echo "::error title=maskflow action::$asset holds no $exe"; exit 1; }
chmod +x "$bin"
dirname "$bin" >>"${GITHUB_PATH:?}"
output method download
output bin "$bin"
