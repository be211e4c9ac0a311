#!/usr/bin/env bash
# Starts one Python peer in the foreground: bench/peers/serve.sh APP MODEL_DIR PORT [WORKERS]
# APP is iris_app or minilm_app (bench/peers/*.py); uvicorn with httptools and uvloop
# (uvicorn[standard]), WORKERS processes (default 2), no access log.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=$here/../../target/bench/peers-venv
export PEER_MODEL_DIR=$2 TOKENIZERS_PARALLELISM=false OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
exec "$venv/bin/python" -m uvicorn "$1:app" --app-dir "$here" --host 127.0.0.1 --port "$3" \
  --workers "${4:-2}" --http httptools --loop uvloop --no-access-log --log-level warning
