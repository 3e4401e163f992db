#!/usr/bin/env bash
# Last step of action.yml: run `maskflow plan|apply`. maskflow sees GITHUB_ACTIONS=true and
# writes the step's outputs (created, updated, unchanged, failed, lockfile, changed),
# annotations and step summary itself.
#
# Environment (set by action.yml from the inputs; never interpolated into this script):
# MASKFLOW_COMMAND, MASKFLOW_MANIFEST, MASKFLOW_ARGS, MASKFLOW_REPORT (apply only: where
# to write the visual report; maskflow then sets the `report` output), INSTALLED_BIN / BUILT_BIN (the binary
# the install or build step chose; `maskflow` on PATH when both are empty),
# PHOTOSHOP_CLIENT_ID, PHOTOSHOP_CLIENT_SECRET, PHOTOSHOP_ACCESS_TOKEN.
set -euo pipefail

command=${MASKFLOW_COMMAND:-}
case "$command" in
  plan | apply) ;;
  install) exit 0 ;; # the binary is on PATH for the next steps; nothing to run
  *)
    echo "::error title=maskflow action::input \`command\` must be plan, apply or install, not \`$command\`"
    exit 1
    ;;
esac

# Empty credentials are absent ones; present ones are kept out of the log.
for name in PHOTOSHOP_CLIENT_ID PHOTOSHOP_CLIENT_SECRET PHOTOSHOP_ACCESS_TOKEN; do
  if [[ -z ${!name:-} ]]; then
    unset "$name"
  else
    echo "::add-mask::${!name}"
  fi
done

# `args` is split on whitespace, without globbing or further expansion.
set -f
read -r -a extra <<<"${MASKFLOW_ARGS:-}"
set +f
if [[ $command == apply && -n ${MASKFLOW_REPORT:-} ]]; then
  extra+=(--report "$MASKFLOW_REPORT")
fi

bin=${BUILT_BIN:-${INSTALLED_BIN:-maskflow}}
export GITHUB_ACTIONS=true
set -x
# (`${extra[@]+...}`: macOS runners have bash 3.2, where an empty array is "unbound".)
exec "$bin" "$command" --manifest "${MASKFLOW_MANIFEST:-maskflow.yaml}" ${extra[@]+"${extra[@]}"}
