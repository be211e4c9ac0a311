#!/usr/bin/env bash
# Benchmarks, run on demand (never in CI): builds once, then prints one markdown table, each figure beside its
# reference measured in the same run on the same bytes.
#   bench/run.sh              # the fetch benchmark: a synthetic 2 GiB repo from the fake Hub on loopback
#   BENCH_BIG_MIB=256 bench/run.sh   # a smaller repo for a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in curl openssl java mvn; do
  command -v "$tool" >/dev/null || { echo "bench needs $tool" >&2; exit 2; }
done
mvn -q -B -Pquick package
mvn -q -B dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/bench-classpath.txt
exec java -Xmx512m -cp "target/test-classes:target/classes:$(cat target/bench-classpath.txt)" \
  dev.modelcache.bench.FetchBench "$@"
