#!/usr/bin/env bash
# The request path under async-profiler (docs/performance.md, "The ceiling"): a daemon on the iris model from
# target/classes (PRE: a classpath put ahead of it), warmed up with wrk at concurrency C (default 32), then DUR s
# (default 15) profiled, Java and native frames (libtorch, the JVM) alike. async-profiler is a bench tool only,
# not a dependency: fetch it once with
#   mvn -B -q dependency:get -Dartifact=tools.profiler:async-profiler:4.1:jar:linux-x64
#   mvn -B -o -q test-compile dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/cp.txt
#   EVENT=itimer bench/asprof.sh NAME [URL_PATH]   # -> target/asprof/NAME/{cpu.collapsed,wrk.txt,log}
#   python3 bench/asprof-summary.py target/asprof/NAME/cpu.collapsed REQUESTS
# EVENT: itimer (CPU time, default; works where perf_events are not allowed), cpu, or alloc (-> alloc.collapsed,
# bytes). URL_PATH: /inference/iris (POST, default) or /health/live (GET). Needs wrk, curl, jcmd, unzip.
set -eu
name=$1; path=${2:-/inference/iris}; ev=${EVENT:-itimer}
cd "$(dirname "$0")/.."
jar=${AP_JAR:-$HOME/.m2/repository/tools/profiler/async-profiler/4.1/async-profiler-4.1-linux-x64.jar}
ap=$PWD/target/async-profiler; [ -f $ap/linux-x64/libasyncProfiler.so ] || { mkdir -p $ap; unzip -o -q "$jar" -d $ap; }
lib=$ap/linux-x64/libasyncProfiler.so
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
w=$PWD/target/asprof/$name; rm -rf $w; mkdir -p $w
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
    batch: {max_size: 1, max_delay_ms: 0}
Y
java -Xmx256m -Dai.djl.offline=true \
  -cp "${PRE:-}target/classes:$(cat target/cp.txt)" dev.modelcache.cli.Main serve -c $w/c.yaml > $w/log 2>&1 &
pid=$!
for i in $(seq 240); do curl -sf http://127.0.0.1:$port/health/ready >/dev/null && break; sleep 0.5; done
body='{"inputs": [5.1, 3.4, 1.5, 0.2]}'
if [ "$path" = /inference/iris ]; then
  printf 'wrk.method = "POST"; wrk.body = %s; wrk.headers["Content-Type"] = "application/json"\n' "'$body'" > $w/req.lua
else
  echo 'wrk.method = "GET"' > $w/req.lua
fi
u=http://127.0.0.1:$port$path
wrk -t1 -c${C:-32} -d${WARM:-10}s -s $w/req.lua $u > $w/warm.txt
if [ "$ev" = alloc ]; then opt="start,event=alloc,alloc=1"; out=alloc; else opt="start,event=$ev,interval=${INTERVAL:-200us}"; out=cpu; fi
# the options in quotes: jcmd would read "a=b" as a named argument of its own
jcmd $pid JVMTI.agent_load $lib "\"$opt\"" > $w/attach.txt
wrk -t1 -c${C:-32} -d${DUR:-15}s --latency -s $w/req.lua $u | tee $w/wrk.txt
jcmd $pid JVMTI.agent_load $lib "\"stop,collapsed,file=$w/$out.collapsed\"" >> $w/attach.txt
kill $pid; wait $pid || true
awk '$2=="requests"{print "requests", $1}' $w/wrk.txt
