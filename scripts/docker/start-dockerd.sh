#!/usr/bin/env bash
# Start (or reuse) a Docker engine on this machine and make sure the debootstrap-based Node base image exists.
# Idempotent: a second call with a running engine and a cached image returns in well under a second.
#
#   scripts/docker/start-dockerd.sh            engine + base image (notdns/node-base:bookworm)
#   scripts/docker/start-dockerd.sh --engine   engine only
#   scripts/docker/start-dockerd.sh --stop     stop the dockerd this script started (by its pid file), remove docker0
# dockerd runs with --iptables=false: the host's firewall is left alone (published ports go through docker-proxy;
# no container needs egress: images are built from a local debootstrap base).
#
# Why the wrapper: root on our VMs lacks CAP_SYS_RESOURCE in its bounding set, so `--privileged` containers
# (kind nodes are privileged) fail unless runc drops that capability from the OCI config
# (the runc-nosysres wrapper this script writes into $NOTDNS_DOCKER_DIR below). Why debootstrap: no image registry is reachable here, so the base
# image is Debian's minbase plus this machine's own Node 20 binary; on a machine with a registry the workload
# Dockerfile uses node:20-bookworm-slim instead and this image is not needed.
#
# Exit codes: 0 ready; 2 the engine cannot be started here (reason on stderr); 3 base image build failed.
# Environment: NOTDNS_DOCKER_DIR (state, default /var/lib/notdns-docker), NOTDNS_NO_INSTALL=1 (never apt-get),
#              NOTDNS_BASE_IMAGE (default notdns/node-base:bookworm), NOTDNS_DEBIAN_SUITE (default bookworm).
set -uo pipefail

DIR=${NOTDNS_DOCKER_DIR:-/var/lib/notdns-docker}
BASE_IMAGE=${NOTDNS_BASE_IMAGE:-notdns/node-base:bookworm}
SUITE=${NOTDNS_DEBIAN_SUITE:-bookworm}
MODE=${1:-all}

say() { printf 'start-dockerd: %s\n' "$*" >&2; }
die() { say "$2"; exit "$1"; }

engine_up() { timeout 5 docker info >/dev/null 2>&1; }

if [ "$MODE" = "--stop" ]; then
  if [ -f "$DIR/dockerd.pid" ] && kill -0 "$(cat "$DIR/dockerd.pid")" 2>/dev/null; then
    pid=$(cat "$DIR/dockerd.pid")
    kill "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$DIR/dockerd.pid"
    # dockerd leaves its bridge behind: the host's root namespace gets back what it had
    ip link show docker0 >/dev/null 2>&1 && ip link del docker0
    say "stopped"
  else
    say "no dockerd started by this script is running"
  fi
  exit 0
fi

mkdir -p "$DIR" || die 2 "cannot create $DIR"

# 1. The engine -----------------------------------------------------------------------------------------------
if ! command -v docker >/dev/null 2>&1 || ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
  if ! engine_up; then
    [ "${NOTDNS_NO_INSTALL:-0}" = 1 ] && die 2 "dockerd/debootstrap not installed and NOTDNS_NO_INSTALL=1 (install: apt-get install -y docker.io debootstrap)"
    [ "$(id -u)" = 0 ] || die 2 "dockerd is not installed and this is not root (install: sudo apt-get install -y docker.io debootstrap)"
    say "installing docker.io and debootstrap (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y -q docker.io debootstrap >"$DIR/apt.log" 2>&1 \
      || { apt-get update -q >>"$DIR/apt.log" 2>&1 && apt-get install -y -q docker.io debootstrap >>"$DIR/apt.log" 2>&1; }; } \
      || die 2 "apt-get install docker.io debootstrap failed (see $DIR/apt.log)"
  fi
fi

if ! engine_up; then
  [ "$(id -u)" = 0 ] || die 2 "no Docker engine is reachable and only root can start one here"
  RUNC=$(command -v runc || echo /usr/sbin/runc)
  [ -x "$RUNC" ] || die 2 "runc not found (it comes with docker.io)"
  cat >"$DIR/runc-nosysres" <<W
#!/bin/sh
# Drop CAP_SYS_RESOURCE from every OCI config before runc sees it (see scripts/docker/start-dockerd.sh).
prev=""
for a in "\$@"; do
  case "\$prev" in --bundle|-b) f="\$a/config.json" ;; --process|-p) f="\$a" ;; *) f="" ;; esac
  [ -n "\$f" ] && [ -f "\$f" ] && sed -i 's/"CAP_SYS_RESOURCE",//g; s/,"CAP_SYS_RESOURCE"//g; s/"CAP_SYS_RESOURCE"//g' "\$f"
  prev="\$a"
done
exec $RUNC "\$@"
W
  chmod +x "$DIR/runc-nosysres"
  say "starting dockerd (log: $DIR/dockerd.log)"
  setsid dockerd --iptables=false --ip6tables=false --add-runtime "nosr=$DIR/runc-nosysres" --default-runtime nosr >>"$DIR/dockerd.log" 2>&1 </dev/null &
  echo $! >"$DIR/dockerd.pid"
  for _ in $(seq 1 120); do
    engine_up && break
    kill -0 "$(cat "$DIR/dockerd.pid")" 2>/dev/null || die 2 "dockerd exited at start: $(tail -n 3 "$DIR/dockerd.log" | tr '\n' ' ')"
    sleep 0.25
  done
  engine_up || die 2 "dockerd did not answer within 30 s: $(tail -n 3 "$DIR/dockerd.log" | tr '\n' ' ')"
fi
say "engine ready ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
[ "$MODE" = "--engine" ] && exit 0

# 2. The base image: Debian minbase + this machine's Node binary -----------------------------------------------
if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  say "base image $BASE_IMAGE cached"; exit 0
fi
NODE_BIN=$(readlink -f "$(command -v node)") || die 3 "no node binary on this machine to put in the base image"
TARBALL="$DIR/rootfs-$SUITE.tar"
if [ ! -s "$TARBALL" ]; then
  command -v debootstrap >/dev/null 2>&1 || die 3 "debootstrap not installed (apt-get install -y debootstrap)"
  MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
  [ -n "$MIRROR" ] || MIRROR=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  [ -n "$MIRROR" ] || die 3 "cannot find the Debian mirror this machine uses"
  ROOTFS="$DIR/rootfs-$SUITE"
  rm -rf "$ROOTFS"
  say "debootstrap --variant=minbase $SUITE (about a minute, once)"
  debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR" >"$DIR/debootstrap.log" 2>&1 \
    || die 3 "debootstrap failed (see $DIR/debootstrap.log)"
  tar -C "$ROOTFS" --exclude='./var/cache/apt/archives/*.deb' --exclude='./var/lib/apt/lists/*' \
      --exclude='./var/cache/apt/*.bin' -cf "$TARBALL.tmp" . && mv "$TARBALL.tmp" "$TARBALL" || die 3 "tar of the rootfs failed"
  rm -rf "$ROOTFS"
fi
# Layer the node binary on top of the imported rootfs without a registry: import, then a one-line build.
docker image inspect "notdns/debian-base:$SUITE" >/dev/null 2>&1 \
  || docker import "$TARBALL" "notdns/debian-base:$SUITE" >/dev/null || die 3 "docker import failed"
CTX=$(mktemp -d)
cp "$NODE_BIN" "$CTX/node"
cat >"$CTX/Dockerfile" <<D
FROM notdns/debian-base:$SUITE
COPY node /usr/local/bin/node
RUN node --version
D
docker build -q -t "$BASE_IMAGE" "$CTX" >"$DIR/base-build.log" 2>&1 || { rm -rf "$CTX"; die 3 "base image build failed (see $DIR/base-build.log)"; }
rm -rf "$CTX"
say "base image $BASE_IMAGE built"
