#!/usr/bin/env bash
# Resident memory of the daemon on iris after a load run (docs/performance.md, "Resident memory after load"): the
# daemon started as users start it, by the launcher (docker/modelcache, the image's bin/modelcache) on
# target/modelcache.jar, then wrk at concurrency 1, 8 and 32 on POST /inference/iris, then its memory.
#   mvn -B -o -q -Pquick,linux-x86_64 package      # target/modelcache.jar
#   bench/rss.sh NAME                                # -> target/rss/NAME/summary.txt
# MODELCACHE_OPTS: JVM flags after the launcher's (as in the image); LAUNCHER: another launcher script to run (an
# older docker/modelcache, for an A/B: git show main:docker/modelcache > target/old-launcher); NMT=1 adds -XX:NativeMemoryTracking=summary and
# keeps `jcmd VM.native_memory summary` (nmt.txt); DUR: seconds a phase (10); WARM: seconds of warm-up at c=8 (5);
# IDLE: seconds idle before the last reading (10). The environment (MALLOC_ARENA_MAX, OMP_NUM_THREADS, ...) is the
# daemon's. Prints, per phase, req/s and the daemon's CPU per request (utime + stime of /proc/PID/stat over the
# phase: every thread, GC and JIT included); then VmRSS, RssAnon, RssFile and Pss after the runs and after IDLE s.
# Needs wrk, curl, jcmd.
set -eu
name=$1; dur=${DUR:-10}
cd "$(dirname "$0")/.."
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
w=$PWD/target/rss/$name; rm -rf "$w"; mkdir -p "$w/home/bin"
# The launcher finds its jar beside its bin/: a home of links, so it runs exactly as in the image (no CDS archive).
ln -s "$(realpath "${LAUNCHER:-docker/modelcache}")" "$w/home/bin/modelcache"
ln -s "$PWD/target/modelcache.jar" "$w/home/modelcache.jar"
cat > "$w/c.yaml" <<Y
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
    batch: {max_size: 1, max_delay_ms: 0}
Y
opts="${MODELCACHE_OPTS:-}"
if [ -n "${NMT:-}" ]; then opts="$opts -XX:NativeMemoryTracking=summary"; fi
MODELCACHE_OPTS="$opts" "$w/home/bin/modelcache" serve -c "$w/c.yaml" > "$w/log" 2>&1 &
pid=$!
for _ in $(seq 240); do curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break; sleep 0.5; done
cat > "$w/post.lua" <<'L'
wrk.method = "POST"; wrk.body = '{"inputs": [5.1, 3.4, 1.5, 0.2]}'; wrk.headers["Content-Type"] = "application/json"
L
u=http://127.0.0.1:$port/inference/iris
mem() { # VmRSS RssAnon RssFile (status) and Pss (smaps_rollup), in KiB
  awk '$1=="VmRSS:"{r=$2} $1=="RssAnon:"{a=$2} $1=="RssFile:"{f=$2} END{printf "rss %d anon %d file %d", r, a, f}' \
    "/proc/$pid/status"
  awk '$1=="Pss:"{printf " pss %d\n", $2}' "/proc/$pid/smaps_rollup"; }
ticks() { sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}'; }
echo "ready $(mem)" > "$w/mem.txt"
wrk -t1 -c8 -d"${WARM:-5}"s -s "$w/post.lua" "$u" > "$w/warm.txt"
for c in 1 8 32; do
  a=$(ticks); wrk -t1 -c$c -d"${dur}"s --latency -s "$w/post.lua" "$u" > "$w/c$c.txt"; echo $(($(ticks) - a)) > "$w/c$c.ticks"
done
echo "after_runs $(mem)" >> "$w/mem.txt"
cp "/proc/$pid/smaps" "$w/smaps.txt"
jcmd $pid GC.heap_info > "$w/heap.txt" 2>&1 || true
if [ -n "${NMT:-}" ]; then jcmd $pid VM.native_memory summary > "$w/nmt.txt" 2>&1 || true; fi
sleep "${IDLE:-10}"
echo "idle_${IDLE:-10}s $(mem)" >> "$w/mem.txt"
kill $pid; wait $pid || true
f() { awk -v k="c$1" -v t="$(cat "$w/c$1.ticks")" -v hz="$(getconf CLK_TCK)" '$2=="requests"{n=$1} $1=="Requests/sec:"{r=$2}
  $1=="50%"{p=$2} $1=="99%"{q=$2} END{printf "%s %s req/s p50 %s p99 %s cpu %.1f us/req\n",k,r,p,q,t*1e6/hz/n}' "$w/c$1.txt"; }
{ echo "MODELCACHE_OPTS=$opts"; f 1; f 8; f 32; cat "$w/mem.txt"; grep -h "Non-2xx\|Socket errors" "$w"/c*.txt || true
  grep -E "garbage-first heap|region size" "$w/heap.txt" || true; } | tee "$w/summary.txt"
