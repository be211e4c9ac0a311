#!/usr/bin/env bash
# Base images made from Debian packages, for machines that cannot pull from Docker Hub (air-gapped CI, a
# registry-less build host). Each is made once per engine and reused: debootstrap --variant=minbase into a temp
# folder, then `docker import`. Prints the image names to pass as build arguments:
#
#   docker/base-images.sh
#   DOCKER_BUILDKIT=1 docker build -f docker/Dockerfile --build-arg JDK_IMAGE=modelcache-base/jdk:17 \
#     --build-arg BASE_IMAGE=modelcache-base/curl:12 --build-arg JAR=context -t modelcache:dev .
#
# jdk:17 (OpenJDK 17 with its jmods, and binutils) is where the image's jlink runtime is made and its natives stripped;
# curl:12 (Debian with curl) is the CPU image's OS. jre:17 and python:3 are for the example app and other tools.
#
# MIRROR overrides the Debian mirror (default: the first one in this machine's apt sources, else deb.debian.org);
# SUITE the Debian release (bookworm).
set -euo pipefail
docker=${DOCKER:-docker}
suite=${SUITE:-bookworm}
mirror=${MIRROR:-$(grep -rhoE '(URIs:|^deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d 2>/dev/null \
  | grep -oE 'https?://[^ ]+' | head -1 || true)}
mirror=${mirror:-http://deb.debian.org/debian}

# name:tag  packages
images=(
  "modelcache-base/jre:17 ca-certificates,curl,openjdk-17-jre-headless"
  "modelcache-base/python:3 python3-minimal,libpython3-stdlib"
  "modelcache-base/jdk:17 binutils,openjdk-17-jdk-headless"
  "modelcache-base/curl:12 ca-certificates,curl"
)

make_image() {
  local name=$1 packages=$2 root started
  if "$docker" image inspect "$name" >/dev/null 2>&1; then
    echo "$name: present"
    return
  fi
  command -v debootstrap >/dev/null || { echo "debootstrap is not installed (apt-get install debootstrap)" >&2; return 1; }
  started=$(date +%s)
  root=$(mktemp -d /var/tmp/modelcache-base.XXXXXX)
  # shellcheck disable=SC2064 # expand root now
  trap "rm -rf '$root'" RETURN
  debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >"$root.log" 2>&1 \
    || { tail -20 "$root.log" >&2; rm -f "$root.log"; return 1; }
  rm -f "$root.log"
  # Slim what no container needs: apt lists, docs, man pages, locales but C.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/usr/share/doc/* "$root"/usr/share/man/* \
    "$root"/usr/share/info/* "$root"/var/cache/debconf/*-old
  find "$root"/usr/share/locale -mindepth 1 -maxdepth 1 ! -name 'C.*' -exec rm -rf {} + 2>/dev/null || true
  tar -C "$root" -c . | "$docker" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' - "$name" >/dev/null
  echo "$name: made from $suite ($packages) in $(( $(date +%s) - started )) s"
}

pids=()
for spec in "${images[@]}"; do
  # shellcheck disable=SC2086 # name and packages
  make_image $spec &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
