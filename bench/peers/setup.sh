#!/usr/bin/env bash
# Sets up the Python peers' virtual environment, target/bench/peers-venv, once (kept while
# requirements.txt is unchanged). Prints one line and exits non-zero when it cannot; the bench then
# skips the Python peers with that reason.
#   BENCH_PIP_INDEX   the package index pip installs from (default: the machine's local index,
#                     /opt/pypi/simple, when it exists, else pip's own configuration)
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/bench/peers-venv
stamp=$venv/.requirements
if [[ -f $stamp ]] && cmp -s bench/peers/requirements.txt "$stamp"; then
  exit 0
fi
command -v python3 >/dev/null || { echo "no python3 on PATH"; exit 1; }
mkdir -p target/bench
log=target/bench/peers-setup.log
if ! python3 -m venv --clear "$venv" >"$log" 2>&1; then
  echo "python3 -m venv failed (see $log)"
  exit 1
fi
index=${BENCH_PIP_INDEX:-}
if [[ -z $index && -d /opt/pypi/simple ]]; then
  index=file:///opt/pypi/simple
fi
args=(install -q -r bench/peers/requirements.txt)
[[ -n $index ]] && args+=(--index-url "$index")
echo "setting up $venv (pip ${args[*]}), once" >&2
if ! "$venv/bin/pip" "${args[@]}" >>"$log" 2>&1; then
  echo "pip could not install bench/peers/requirements.txt (see $log; torch is the large one)"
  exit 1
fi
cp bench/peers/requirements.txt "$stamp"
