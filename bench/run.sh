#!/usr/bin/env bash
# Benchmarks, run on demand (never in CI): builds once, then prints one markdown table, each figure beside its
# reference measured in the same run on the same bytes.
#   bench/run.sh                     # every benchmark below, one table (also in target/bench/table.md); this is
#                                    # what docs/performance.md shows
#   bench/run.sh fetch               # the fetch benchmark: a synthetic 2 GiB repo from the fake Hub on loopback
#   BENCH_BIG_MIB=256 bench/run.sh   # a smaller repo for a quick look
#   bench/run.sh s3                  # cold fetch of a synthetic 2 GiB folder from a local S3 server (S3Proxy,
#                                    # filesystem store under target/bench/s3, deleted afterwards; BENCH_KEEP=1
#                                    # keeps it) against single-stream GetObject + openssl; BENCH_BIG_MIB shrinks it
#   bench/run.sh verify              # warm start and verify --full of a ~5 GiB cache of 10 models (built once
#                                    # under target/bench/verify, reused); BENCH_MODELS, BENCH_WEIGHTS_MIB and
#                                    # BENCH_RUNS shrink it or change the number of runs
#   bench/run.sh load                # capacity, then 2x capacity for 60 s (BENCH_OVERLOAD_SECONDS): only 200 or
#                                    # 503 + Retry-After, bounded p99, flat resident memory
#   bench/run.sh soak                # 10 minutes (BENCH_SOAK_SECONDS) of mixed requests: heap after GC, threads,
#                                    # open files first vs last
#   bench/run.sh inference           # POST /inference against in-process Predictor.predict: p50 at concurrency 1,
#                                    # throughput at 32, dynamic batching (max_size 16, 5 ms) against max_size 1,
#                                    # and the daemon's RSS; BENCH_MODEL (a folder of models/, default iris),
#                                    # BENCH_INPUT, BENCH_WORKERS (2), BENCH_SECONDS (10) and BENCH_REQUESTS (20000)
#                                    # change the model, its input and the caps of each phase; then the peers:
#   bench/run.sh peers               # the peers alone: modelcache (batching off, and on: 16 / 5 ms), its gRPC
#                                    # ModelInfer (GrpcLoad, a JVM of its own), FastAPI + uvicorn (bench/peers/,
#                                    # set up once in target/bench/peers-venv by bench/peers/setup.sh) and
#                                    # modelcache's /health/live as the ceiling, on iris and all-MiniLM-L6-v2,
#                                    # under wrk at concurrency 1, 8, 32: req/s, p50, p99, RSS, and the ratios
#                                    # against issue #18's goals under the table; BENCH_SECONDS (10) a phase,
#                                    # BENCH_ROUNDS (2) interleaved rounds; BENCH_SECONDS=2 BENCH_ROUNDS=1 for a
#                                    # quick look. Needs wrk (Debian: apt-get install wrk); the Python peers are
#                                    # skipped, with the reason, when their environment cannot be set up
#   bench/run.sh switch              # a watched model (watch: 1 s) on a fake Hub whose branch moves while 8 clients
#                                    # (BENCH_SWITCH_CLIENTS) keep the daemon busy: requests served during the switch,
#                                    # non-200 answers (0), seconds from the move to the new revision serving
# MVN_FLAGS is passed to Maven (e.g. MVN_FLAGS=-o to build offline).
set -euo pipefail
cd "$(dirname "$0")/.."
name=all
case "${1:-}" in
  all | fetch | verify | s3 | inference | peers | load | soak | switch) name=$1; shift ;;
esac
case "$name" in
  all) main=dev.modelcache.bench.BenchAll; tools=(curl openssl xargs wrk java mvn) ;;
  fetch) main=dev.modelcache.bench.FetchBench; tools=(curl openssl java mvn) ;;
  verify) main=dev.modelcache.bench.VerifyBench; tools=(openssl xargs java mvn) ;;
  s3) main=dev.modelcache.bench.S3Bench; tools=(openssl sync java mvn) ;;
  load) main=dev.modelcache.bench.LoadBench; tools=(java mvn) ;;
  switch) main=dev.modelcache.bench.SwitchBench; tools=(java mvn) ;;
  soak) main=dev.modelcache.bench.LoadBench; set -- soak "$@"; tools=(java jcmd mvn) ;;
  inference) main=dev.modelcache.bench.InferenceBench; tools=(wrk java mvn) ;;
  peers) main=dev.modelcache.bench.PeersBench; tools=(wrk java mvn) ;;
esac
for tool in "${tools[@]}"; do
  if ! command -v "$tool" >/dev/null; then
    case "$tool" in
      wrk) echo "bench $name needs wrk, the external load generator of the peers rows: it is not on PATH" \
        "(Debian/Ubuntu: apt-get install wrk)" >&2 ;;
      *) echo "bench needs $tool" >&2 ;;
    esac
    exit 2
  fi
done
mvn -q -B ${MVN_FLAGS:-} -Pquick package
mvn -q -B ${MVN_FLAGS:-} dependency:build-classpath -Dmdep.includeScope=test \
  -Dmdep.outputFile=target/bench-classpath.txt
exec java -Xmx512m -cp "target/test-classes:target/classes:$(cat target/bench-classpath.txt)" "$main" "$@"
