#!/usr/bin/env bash
# compose.yaml run for real on a Docker engine, as a user runs it, without Docker Hub: the base images are made from
# Debian packages (docker/base-images.sh), the jar is built on the host, then each step below is timed and checked.
# Any failed check fails the script (exit 1); where no engine answers it says so and exits 0 at once.
#
#   scripts/compose-e2e.sh            # .ci/run calls it after `mvn verify`
#   E2E_BIG_MIB=512 scripts/compose-e2e.sh   # the size of the large model of the kill step (default 2048)
#
# Steps: build the jar (only natives of linux-x86_64) and the image (JAR=context); `up`: `fetch` exits 0,
# `modelcache` becomes healthy, the example app's POST /inference succeeds; the app's volume is read-only; `down`
# then `up` reuses the volume without fetching again; `docker kill` of a fetch of a large model mid-way, then the
# next `up` resumes it from the bytes already on the volume and installs it.
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian's docker client has BuildKit built in; a newer client earlier on the PATH may lack buildx.
[ -x /usr/bin/docker ] && export PATH="/usr/bin:$PATH"
export DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1
export MODELCACHE_JAR=context JDK_IMAGE=modelcache-base/jdk:17 BASE_IMAGE=modelcache-base/curl:12 \
  APP_IMAGE=modelcache-base/python:3 MODELCACHE_PORT=${MODELCACHE_PORT:-18080}
project=mce2e$$
big_mib=${E2E_BIG_MIB:-2048}

skip() { echo "compose e2e: skipped: $*"; exit 0; }
command -v docker >/dev/null || skip "no docker client (apt-get install docker.io)"
command -v docker-compose >/dev/null || skip "no docker-compose (apt-get install docker-compose)"
timeout 5 docker info >/dev/null 2>&1 || skip "no Docker engine answers (start dockerd; .ci/run does where it can)"

work=$(mktemp -d)
compose() { docker-compose -p "$project" "$@"; }
cleanup() {
  [ -z "${single:-}" ] || docker rm -f "$single" >/dev/null 2>&1 || true
  compose down -v --remove-orphans >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

started=$(date +%s.%N)
step() { # name: prints the step's time since the last one
  local now
  now=$(date +%s.%N)
  awk -v step="$1" -v t="$now - $started" 'BEGIN { split(t, a, " - "); printf "compose e2e: %-62s %6.1f s\n", step, a[1] - a[2] }'
  started=$now
}
fail() {
  echo "compose e2e: FAILED: $*" >&2
  compose logs --no-color --tail=40 >&2 || true
  exit 1
}
container() { compose ps -q "$1"; }
state() { docker inspect -f "$2" "$(container "$1")"; }

docker/base-images.sh
step "base images (debootstrap, once per engine)"
mvn -B -o -q -Pquick,linux-x86_64 package
step "jar (mvn -Pquick,linux-x86_64 package, $(du -m target/modelcache.jar | cut -f1) MiB)"
build_log=$(compose build -q 2>&1) || fail "docker-compose build: $build_log"
size=$(docker image inspect -f '{{.Size}}' modelcache:dev)
step "image built (JAR=context): modelcache:dev $((size / 1000000)) MB"

# From `docker run` to healthy: the image alone, serving its demo models on a fresh volume.
run_started=$(date +%s.%N)
single=$(docker run -d "modelcache:dev")
deadline=$((SECONDS + 120))
until [ "$(docker inspect -f '{{.State.Health.Status}}' "$single")" = healthy ]; do
  [ $SECONDS -lt $deadline ] || { docker logs "$single" | tail -20 >&2; docker rm -f "$single" >/dev/null; fail "docker run: not healthy in 120 s"; }
  sleep 0.2
done
to_healthy=$(awk -v t="$(date +%s.%N) - $run_started" 'BEGIN { split(t, a, " - "); printf "%.1f", a[1] - a[2] }')
docker rm -f "$single" >/dev/null
single=
step "docker run to healthy: $to_healthy s"

up_log=$(compose up -d 2>&1) || fail "docker-compose up: $up_log"
[ "$(state fetch '{{.State.ExitCode}}')" = 0 ] || fail "fetch did not exit 0"
[ "$(state modelcache '{{.State.Health.Status}}')" = healthy ] || fail "modelcache is not healthy"
step "up: fetch exited 0, modelcache healthy"
deadline=$((SECONDS + 60))
until [ "$(state app '{{.State.Status}}')" = exited ]; do
  [ $SECONDS -lt $deadline ] || fail "the app did not finish in 60 s"
  sleep 0.2
done
[ "$(state app '{{.State.ExitCode}}')" = 0 ] || fail "the app exited $(state app '{{.State.ExitCode}}')"
compose logs --no-color app | grep -q 'predicts setosa for \[5.1, 3.4, 1.5, 0.2\]' || fail "the app's answer"
step "app: POST /inference predicts setosa"
curl -fsS "http://127.0.0.1:$MODELCACHE_PORT/health/ready" >/dev/null || fail "/health/ready on the host port"
if out=$(compose run --rm --no-deps -T app python3 -c "open('/models/probe', 'w')" 2>&1); then
  fail "the app could write to /models"
fi
grep -q 'Read-only file system' <<<"$out" || fail "the app's write failed for another reason: $out"
step "app's /models is read-only"

# OpenShift runs the image as an arbitrary uid in group 0: it must be able to add a model beside ours.
mkdir -p "$work/big" "$work/config"
cat >"$work/config/other-uid.yaml" <<YAML
models:
  - name: digits-other-uid
    source: file:/opt/modelcache/models/digits
YAML
compose run --rm --no-deps -T --user 4242:0 -v "$work/config:/e2e:ro" -e MODELCACHE_CONFIG=/e2e/other-uid.yaml \
  fetch fetch >"$work/other-uid.log" 2>&1 || fail "uid 4242 (group 0) could not add a model: $(tail -5 "$work/other-uid.log")"
step "uid 4242 of group 0 adds a model in the same volume"

compose down >/dev/null 2>&1
up_log=$(compose up -d 2>&1) || fail "docker-compose up (again): $up_log"
fetch_log=$(compose logs --no-color fetch)
grep -q 'fetching' <<<"$fetch_log" && fail "the second up fetched again: $fetch_log"
[ "$(grep -c 'all in the cache' <<<"$fetch_log")" -ge 2 ] || fail "the second fetch did not reuse the volume: $fetch_log"
[ "$(state modelcache '{{.State.Health.Status}}')" = healthy ] || fail "modelcache is not healthy after down/up"
step "down, up: volume reused, nothing fetched, healthy"

# A large local model, fetched by the fetch service with a quarter of a CPU so that it is still running when killed.
head -c $((big_mib << 20)) /dev/urandom >"$work/big/weights.bin"
digest=$(sha256sum "$work/big/weights.bin" | cut -d' ' -f1)
cat >"$work/config/big.yaml" <<YAML
models:
  - name: big
    source: file:/big
    sha256: { weights.bin: "$digest" }
    load: lazy
YAML
cat >"$work/big.yaml" <<YAML
services:
  fetch:
    cpus: 0.25
    environment:
      MODELCACHE_CONFIG: /e2e/big.yaml
    volumes:
      - $work/big:/big:ro
      - $work/config:/e2e:ro
YAML
step "large model: ${big_mib} MiB made"
compose -f compose.yaml -f "$work/big.yaml" up -d --no-deps --no-build fetch >/dev/null 2>&1 || fail "up fetch (large)"
volume=$(docker volume inspect -f '{{.Mountpoint}}' "${project}_models")
deadline=$((SECONDS + 120))
until [ "$(du -sm "$volume/.modelcache/parts" 2>/dev/null | cut -f1 || echo 0)" -ge $((big_mib / 4)) ]; do
  [ $SECONDS -lt $deadline ] || fail "the large fetch did not reach a quarter in 120 s"
  [ "$(state fetch '{{.State.Status}}')" = running ] || fail "the large fetch ended before it was killed"
  sleep 0.1
done
docker kill "$(container fetch)" >/dev/null
step "docker kill mid-fetch ($(du -sm "$volume/.modelcache/parts" | cut -f1) MiB of $big_mib on the volume)"
compose -f compose.yaml -f "$work/big.yaml" up --no-deps --no-build fetch >/dev/null 2>&1 || true
[ "$(state fetch '{{.State.ExitCode}}')" = 0 ] || fail "the fetch after the kill did not exit 0"
resumed=$(compose logs --no-color fetch | grep -oE 'resuming [0-9]+ of [0-9]+ bytes|resuming from byte [0-9]+' | tail -1 || true)
[ -n "$resumed" ] || fail "the fetch after the kill did not resume: $(compose logs --no-color --tail=20 fetch)"
installed=$(find "$volume/local/big/snapshots" -name weights.bin | head -1)
[ -n "$installed" ] || fail "the large model is not installed"
[ "$(sha256sum "$installed" | cut -d' ' -f1)" = "$digest" ] || fail "the installed large file does not match its digest"
step "up again: $resumed, installed and verified"
echo "compose e2e: passed (image modelcache:dev $((size / 1000000)) MB, docker run to healthy $to_healthy s)"
