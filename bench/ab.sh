#!/usr/bin/env bash
# A quick A/B of the request path (docs/performance.md, "Where a request's time goes"): a daemon on the iris model
# from target/classes (PRE: a classpath put ahead of it, such as a copy of an older target/classes), warmed up with
# wrk, then wrk at concurrency 1 and 32 on POST /inference/$model, wrk at 32 on GET /health/live, and the RSS after.
#   mvn -B -o -q test-compile dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/cp.txt
#   PRE=target/classes-old: bench/ab.sh NAME [MAX_SIZE [DELAY_MS]]   # -> target/ab/NAME/summary.txt
# Each phase also gives the daemon's CPU time per request (utime + stime of its threads over the phase, the JIT
# compilers' left out, divided by the requests wrk counted): on a shared machine that moves far less than req/s.
# AFTER: a command run with the daemon's pid and the output folder ($1, $2) before it is stopped (-> after.txt).
# JAVA_OPTS: the daemon's JVM options (default -Xmx256m); DUR: seconds a phase (default 5); JAR: run that jar
# (java -jar, as bin/modelcache does) instead of target/classes. Needs wrk, curl.
# MODEL=minilm: all-MiniLM-L6-v2 (text-embedding, mean pooling, normalised; model.onnx and tokenizer.json in
# target/minilm, see bench/OrtPassBench.java) with the peers bench's sentence instead of iris; the summary then also gives the mean batch
# size of the c=32 phase (modelcache_inference_batch_size).
set -eu
name=$1; max=${2:-1}; delay=${3:-0}; dur=${DUR:-5}
cd "$(dirname "$0")/.."
model=${MODEL:-iris}; src=$PWD/models/iris; extra=; body='{"inputs": [5.1, 3.4, 1.5, 0.2]}'
if [ "$model" = minilm ]; then
  src=$PWD/target/minilm; extra=$'\n    task: text-embedding\n    task_options: {pooling: mean, normalize: true}'
  body='{"inputs": "modelcache keeps every model verified on a shared volume and serves it to the backends beside it"}'
fi
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
w=$PWD/target/ab/$name; rm -rf $w; mkdir -p $w
cat > $w/c.yaml <<Y
cache:
  dir: $w/cache
server:
  host: 127.0.0.1
  port: $port
models:
  - name: $model
    source: file:$src$extra
    workers: 2
    queue: 1024
    batch: {max_size: $max, max_delay_ms: $delay}
Y
if [ -n "${JAR:-}" ]; then run=(-jar "$JAR"); else run=(-cp "${PRE:-}target/classes:$(cat target/cp.txt)" dev.modelcache.cli.Main); fi
java ${JAVA_OPTS:--Xmx256m} -Dai.djl.offline=true "${run[@]}" serve -c $w/c.yaml > $w/log 2>&1 &
pid=$!
for i in $(seq 240); do curl -sf http://127.0.0.1:$port/health/ready >/dev/null && break; sleep 0.5; done
cat > $w/post.lua <<L
wrk.method = "POST"; wrk.body = '$body'; wrk.headers["Content-Type"] = "application/json"
L
u=http://127.0.0.1:$port
wrk -t1 -c8 -d${WARM:-5}s -s $w/post.lua $u/inference/$model > $w/warm.txt
rss0=$(ps -o rss= -p $pid)
cpu() { # utime + stime of the daemon's threads but the JIT compilers (warm-up, not a request's cost), in ticks
  for d in /proc/$pid/task/*; do
    case "$(cat $d/comm 2>/dev/null)" in C1\ Compiler* | C2\ Compiler*) continue ;; esac
    sed 's/.*) //' $d/stat 2>/dev/null
  done | awk '{t += $12 + $13} END {print t}'; }
phase() { # NAME wrk-args...
  local n=$1; shift; local a; a=$(cpu); wrk -t1 -d${dur}s --latency "$@" > $w/$n.txt; echo $(( $(cpu) - a )) > $w/$n.ticks; }
phase c1 -c1 -s $w/post.lua $u/inference/$model
batches() { curl -s $u/metrics | awk '/^modelcache_inference_batch_size_(count|sum)/{v[$1 ~ /count/]=$2} END{print v[1] " " v[0]}'; }
b0=$(batches)
phase c32 -c32 -s $w/post.lua $u/inference/$model
b1=$(batches)
phase live32 -c32 $u/health/live
rss1=$(ps -o rss= -p $pid)
if [ -n "${AFTER:-}" ]; then sh -c "$AFTER" _ $pid $w > $w/after.txt 2>&1 || true; fi  # such as jcmd $1 VM.native_memory
kill $pid; wait $pid || true
f() { awk -v k="$1" -v t="$(cat $w/$1.ticks)" -v hz="$(getconf CLK_TCK)" '$2=="requests"{n=$1} $1=="Requests/sec:"{r=$2}
  $1=="50%"{p=$2} $1=="99%"{q=$2} END{printf "%s %s req/s p50 %s p99 %s cpu %.1f us/req\n",k,r,p,q,t*1e6/hz/n}' $w/$1.txt; }
{ f c1; f c32; f live32; echo "$b0 $b1" | awk '{if ($3 > $1) printf "c32 passes %d mean batch %.1f\n", $3-$1, ($4-$2)/($3-$1)}'; echo "rss_kb after_warmup $rss0 after_runs $rss1"
  grep -h "Non-2xx" $w/*.txt || true; } | tee $w/summary.txt
