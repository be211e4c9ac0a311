#!/usr/bin/env bash
# The request path under JFR (docs/performance.md, "Where a request's time goes"): a daemon on the iris model from
# target/classes, warmed up with wrk (WARM s), then DUR s recorded at concurrency C (default 1).
#   mvn -B -o -q test-compile dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/cp.txt
#   bench/profile.sh NAME [MAX_SIZE [DELAY_MS]]   # -> target/profile/NAME/rec.jfr, wrk.txt, log
#   python3 bench/jfr-summary.py target/profile/NAME/rec.jfr REQUESTS   # CPU shares, bytes per request, sites
# PRE: a classpath put ahead of target/classes (such as another version of one class). Needs wrk, curl, jcmd.
set -eu
name=$1; max=${2:-1}; delay=${3:-0}
cd "$(dirname "$0")/.."
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
w=$PWD/target/profile/$name; rm -rf $w; mkdir -p $w
cat > $w/c.yaml <<Y
cache:
  dir: $w/cache
server:
  host: 127.0.0.1
  port: $port
models:
  - name: iris
    source: file:$PWD/models/iris
    workers: 2
    queue: 1024
    batch: {max_size: $max, max_delay_ms: $delay}
Y
java -Xmx256m -Dai.djl.offline=true \
  -cp "${PRE:-}target/classes:$(cat target/cp.txt)" dev.modelcache.cli.Main serve -c $w/c.yaml > $w/log 2>&1 &
pid=$!
for i in $(seq 120); do curl -sf http://127.0.0.1:$port/health/ready >/dev/null && break; sleep 0.5; done
body='{"inputs": [5.1, 3.4, 1.5, 0.2]}'
curl -s -XPOST -H 'Content-Type: application/json' -d "$body" http://127.0.0.1:$port/inference/iris; echo
cat > $w/post.lua <<L
wrk.method = "POST"; wrk.body = '$body'; wrk.headers["Content-Type"] = "application/json"
L
wrk -t1 -c${C:-1} -d${WARM:-10}s -s $w/post.lua http://127.0.0.1:$port/inference/iris > $w/warm.txt  # warm-up (JIT)
jcmd $pid JFR.start name=lp settings=profile filename=$w/rec.jfr >/dev/null
wrk -t1 -c${C:-1} -d${DUR:-20}s --latency -s $w/post.lua http://127.0.0.1:$port/inference/iris | tee $w/wrk.txt
jcmd $pid JFR.stop name=lp >/dev/null; kill $pid; wait $pid || true
ls -la $w/rec.jfr
