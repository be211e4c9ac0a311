#!/usr/bin/env bash
# Warm start to ready (docs/performance.md, "Warm start and memory"): a daemon on one model whose cache is already
# filled, from its process start to /health/ready 200, against the model's own load and warm-up time (its READY
# line), and the process's CPU time (utime + stime) at ready, which moves far less than wall time on a shared
# machine. The first run fills the cache and is not counted.
#   mvn -B -o -q -Pquick,linux-x86_64 package -DskipTests
#   bench/start.sh NAME MODEL [RUNS]      # MODEL: iris (TorchScript) or a folder holding all-MiniLM-L6-v2's
#                                         # model.onnx and tokenizer.json (ONNX); -> target/start/NAME/summary.txt
# JAVA_OPTS: the JVM's flags (default -Xmx256m); JAR: the jar (default target/modelcache.jar). Needs curl.
# A/B on a shared machine: JAR_B (and JAVA_OPTS_B, default JAVA_OPTS) is a second daemon started in turn with the
# first in each round (A B, then B A, ...) on the same cache; rows and medians are then given for each.
# Each row: wall ms to ready, the model's load ms (its READY line), wall minus load, CPU ms at ready, RSS KiB at ready.
set -eu
name=$1; model=$2; runs=${3:-3}
cd "$(dirname "$0")/.."
w=$PWD/target/start/$name; rm -rf "$w"; mkdir -p "$w"
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
if [ "$model" = iris ]; then
  src=$PWD/models/iris; extra=""
else
  src=$(cd "$model" && pwd); extra="    task: text-embedding
    task_options: {pooling: mean, normalize: true}"
fi
cat > "$w/c.yaml" <<Y
cache:
  dir: $w/cache
server:
  host: 127.0.0.1
  port: $port
models:
  - name: m
    source: file:$src
    workers: 2
$extra
Y
hz=$(getconf CLK_TCK)
# one start of jar $1 with flags $2 to ready, its log in $3: prints the row
start() {
  t0=$(date +%s%N)
  # shellcheck disable=SC2086 # the flags are a list
  java $2 -Dai.djl.offline=true -jar "$1" serve -c "$w/c.yaml" > "$3" 2>&1 &
  pid=$!
  for _ in $(seq 1200); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/health/ready" && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.02
  done
  t1=$(date +%s%N)
  cpu=$(sed 's/.*) //' /proc/$pid/stat | awk -v hz="$hz" '{printf "%d", ($12 + $13) * 1000 / hz}')
  rss=$(awk '/VmRSS/{print $2}' /proc/$pid/status)
  kill $pid; wait $pid || true
  load=$(sed -n 's/.* - READY: .* in \([0-9]*\) ms, warm-up.*/\1/p' "$3" | head -1)
  wall=$(( (t1 - t0) / 1000000 ))
  echo "$wall ${load:-?} $(( wall - ${load:-0} )) $cpu $rss"
}
a=${JAR:-target/modelcache.jar}; aopts=${JAVA_OPTS:--Xmx256m}
b=${JAR_B:-}; bopts=${JAVA_OPTS_B:-$aopts}
for i in $(seq 0 "$runs"); do
  if [ -z "$b" ]; then
    row=$(start "$a" "$aopts" "$w/log$i")
    [ "$i" = 0 ] || echo "$row" >> "$w/runs.txt"
  elif [ $((i % 2)) = 1 ]; then
    ra=$(start "$a" "$aopts" "$w/log$i"); rb=$(start "$b" "$bopts" "$w/logB$i")
  else
    rb=$(start "$b" "$bopts" "$w/logB$i"); ra=$(start "$a" "$aopts" "$w/log$i")
  fi
  if [ -n "$b" ] && [ "$i" != 0 ]; then echo "$ra" >> "$w/runs.txt"; echo "$rb" >> "$w/runsB.txt"; fi
  [ "$i" = 0 ] || { echo "${row:-A $ra  B $rb}"; echo "load average $(cut -d' ' -f1 /proc/loadavg)"; }
done
med() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
summary() {
  echo "median of $runs: wall $(cut -d' ' -f1 "$1" | med) ms, load $(cut -d' ' -f2 "$1" | med) ms," \
    "wall - load $(cut -d' ' -f3 "$1" | med) ms, cpu $(cut -d' ' -f4 "$1" | med) ms," \
    "rss $(cut -d' ' -f5 "$1" | med) KiB"
}
{ if [ -z "$b" ]; then summary "$w/runs.txt"; else echo "A: $(summary "$w/runs.txt")"; echo "B: $(summary "$w/runsB.txt")"; fi; } |
  tee "$w/summary.txt"
