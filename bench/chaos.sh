#!/usr/bin/env bash
# The chaos suite's long run (docs/reliability.md): every @Tag("chaos") test with its on-demand loop counts, then the
# figures they measured ("CHAOS name: value" lines) gathered from the surefire output.
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -o test -Dgroups=chaos -Dmodelcache.chaos=long -Dsurefire.failIfNoSpecifiedTests=false -Dspotless.check.skip=true "$@"
grep -h '^CHAOS ' target/surefire-reports/*-output.txt | sort
