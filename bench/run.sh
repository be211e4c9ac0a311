#!/usr/bin/env bash
# Benchmarks, run on demand (never in CI): builds once, then prints one markdown table, each figure beside its
# reference measured in the same run on the same bytes.
#   bench/run.sh [fetch]             # the fetch benchmark: a synthetic 2 GiB repo from the fake Hub on loopback
#   BENCH_BIG_MIB=256 bench/run.sh   # a smaller repo for a quick look
#   bench/run.sh s3                  # cold fetch of a synthetic 2 GiB folder from a local S3 server (S3Proxy,
#                                    # filesystem store under target/bench/s3, deleted afterwards; BENCH_KEEP=1
#                                    # keeps it) against single-stream GetObject + openssl; BENCH_BIG_MIB shrinks it
#   bench/run.sh verify              # warm start and verify --full of a ~5 GiB cache of 10 models (built once
#                                    # under target/bench/verify, reused); BENCH_MODELS, BENCH_WEIGHTS_MIB and
#                                    # BENCH_RUNS shrink it or change the number of runs
# MVN_FLAGS is passed to Maven (e.g. MVN_FLAGS=-o to build offline).
set -euo pipefail
cd "$(dirname "$0")/.."
name=fetch
case "${1:-}" in
  fetch | verify | s3) name=$1; shift ;;
esac
case "$name" in
  fetch) main=dev.modelcache.bench.FetchBench; tools=(curl openssl java mvn) ;;
  verify) main=dev.modelcache.bench.VerifyBench; tools=(openssl xargs java mvn) ;;
  s3) main=dev.modelcache.bench.S3Bench; tools=(openssl sync java mvn) ;;
esac
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || { echo "bench needs $tool" >&2; exit 2; }
done
mvn -q -B ${MVN_FLAGS:-} -Pquick package
mvn -q -B ${MVN_FLAGS:-} dependency:build-classpath -Dmdep.includeScope=test \
  -Dmdep.outputFile=target/bench-classpath.txt
exec java -Xmx512m -cp "target/test-classes:target/classes:$(cat target/bench-classpath.txt)" "$main" "$@"
