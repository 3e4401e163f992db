#!/usr/bin/env bash
# Step 3 of action.yml (only when action/install.sh chose `method=build`): build maskflow
# from the action's own source with `cargo install --locked`, into a folder that the step
# before restores from and saves to the actions cache. A restored build is used as it is.
#
# Environment: BUILD_ROOT (install.sh's `root` output), MASKFLOW_VERSION (the version asked
# for), GITHUB_ACTION_PATH, RUNNER_OS, GITHUB_OUTPUT, GITHUB_PATH.
set -euo pipefail

root=${BUILD_ROOT:?}
exe=maskflow
[[ ${RUNNER_OS:-} == Windows ]] && exe=maskflow.exe
bin="$root/bin/$exe"

if [[ -x $bin ]]; then
  echo "maskflow-action: using the cached build $bin ($("$bin" --version))" >&2
else
  command -v cargo >/dev/null || {
    echo "::error title=maskflow action::building maskflow needs cargo (a Rust toolchain, 1.94 or newer) on the runner"
    exit 1
  }
  cargo install --locked --path "${GITHUB_ACTION_PATH:?}" --root "$root"
fi
built=$("$bin" --version)
if [[ -n ${MASKFLOW_VERSION:-} && $built != "maskflow $MASKFLOW_VERSION" ]]; then
  echo "::warning title=maskflow action::no release archive for maskflow $MASKFLOW_VERSION; using $built, built from the action's source"
fi
echo "$root/bin" >>"${GITHUB_PATH:?}"
printf 'bin=%s\n' "$bin" >>"${GITHUB_OUTPUT:?}"
