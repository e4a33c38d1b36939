#!/usr/bin/env bash
# usage: tools/with-env.sh ENV_FILE COMMAND...: run COMMAND with the variables of ENV_FILE
# (the services fixture's endpoints) exported.
set -euo pipefail
env_file=$1
shift
# shellcheck disable=SC1090
[ -f "$env_file" ] && . "$env_file"
exec "$@"
