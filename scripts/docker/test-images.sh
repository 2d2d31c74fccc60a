#!/usr/bin/env bash
# Images and node packages for the container tests (test/container/). No registry is used: images are Debian
# rootfs trees from debootstrap + `docker import`, packages come from this machine's Debian mirror (apt).
# Everything is cached by tag (or directory): a second call returns in well under a second.
#
#   scripts/docker/test-images.sh kindnode-lookalike           notdns/kindnode-lookalike:bookworm
#   scripts/docker/test-images.sh debian12-node20              notdns/debian12-node20 (latest)
#   scripts/docker/test-images.sh node-debs IMAGE DIR PKG...   the .deb files IMAGE lacks to install PKG... into DIR
#
# kindnode-lookalike: `debootstrap --variant=minbase bookworm` + exactly the apt packages of kind v0.30.0's
#   kindest/base (images/base/Dockerfile), Depends only (no Recommends: kind's clean-install uses
#   --no-install-recommends), nothing more: no bpftool, no dig, no clang, like a real kind node. It does not
#   contain kind's containerd/runc/kubelet and does not boot systemd (its command is `sleep infinity`).
# debian12-node20: the minbase image of start-dockerd.sh (notdns/debian-base) + this machine's Node 20 (the
#   `node` binary and the npm/corepack that ship with it), so scripts/setup.sh can run there as on a fresh
#   Debian 12 with Node 20. Rebuilt when this machine's Node version changes (image label notdns.node).
# node-debs: which packages to fetch is apt's own answer on this machine, simulated against IMAGE's dpkg status
#   (`apt-get -s -o Dir::State::status=...`); the files are then `apt-get download`ed (same suite as the image).
#   DIR gets the .deb files and packages.txt (name=version, one a line); a complete DIR is reused as is.
#
# Prints the tag (or DIR) on stdout. Exit codes: 0 ok; 64 usage; 2 no Docker engine (start it with start-dockerd.sh);
# 3 build failed (log in $NOTDNS_DOCKER_DIR); 4 the Debian mirror cannot be reached from this machine.
# Environment: NOTDNS_DOCKER_DIR (default /var/lib/notdns-docker), NOTDNS_DEBIAN_SUITE (default bookworm).
set -uo pipefail
cd "$(dirname "$0")/../.."

DIR=${NOTDNS_DOCKER_DIR:-/var/lib/notdns-docker}
SUITE=${NOTDNS_DEBIAN_SUITE:-bookworm}
# kind v0.30.0 images/base/Dockerfile, the runtime stage's clean-install list (in its order)
KINDEST_BASE_PACKAGES=(systemd conntrack iptables nftables iproute2 ethtool util-linux mount kmod libseccomp2 pigz
  fuse-overlayfs nfs-common open-iscsi bash ca-certificates curl jq procps)

say() { printf 'test-images: %s\n' "$*" >&2; }
die() { say "$2"; exit "$1"; }
engine_up() { timeout 5 docker info >/dev/null 2>&1; }
cached() { docker image inspect "$1" >/dev/null 2>&1; }

mirror() {
  local m
  m=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
  [ -n "$m" ] || m=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  [ -n "$m" ] || die 4 "cannot find the Debian mirror this machine uses (/etc/apt/sources.list*)"
  timeout 20 curl -fsS -o /dev/null "$m/dists/$SUITE/Release" 2>/dev/null || die 4 "the Debian mirror $m cannot be reached from this machine"
  printf '%s' "$m"
}

kindnode_lookalike() {
  local tag=notdns/kindnode-lookalike:$SUITE
  if cached "$tag"; then say "$tag cached"; echo "$tag"; return 0; fi
  command -v debootstrap >/dev/null 2>&1 || die 3 "debootstrap not installed (apt-get install -y debootstrap)"
  local m rootfs="$DIR/rootfs-kindnode-$SUITE" tarball="$DIR/rootfs-kindnode-$SUITE.tar"
  if [ ! -s "$tarball" ]; then
    m=$(mirror) || exit $?
    rm -rf "$rootfs"
    local inc; inc=$(IFS=,; echo "${KINDEST_BASE_PACKAGES[*]}")
    say "debootstrap --variant=minbase --include=$inc $SUITE (about a minute, once)"
    debootstrap --variant=minbase --include="$inc" "$SUITE" "$rootfs" "$m" >"$DIR/debootstrap-kindnode.log" 2>&1 \
      || { rm -rf "$rootfs"; die 3 "debootstrap failed (see $DIR/debootstrap-kindnode.log)"; }
    tar -C "$rootfs" --exclude='./var/cache/apt/archives/*.deb' --exclude='./var/lib/apt/lists/*' \
        --exclude='./var/cache/apt/*.bin' -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball" || { rm -rf "$rootfs"; die 3 "tar of the rootfs failed"; }
    rm -rf "$rootfs"
  fi
  docker import --change 'ENV container=docker' --change 'CMD ["sleep", "infinity"]' "$tarball" "$tag" >/dev/null \
    || die 3 "docker import of $tarball failed"
  say "$tag built"
  echo "$tag"
}

debian12_node20() {
  local tag=notdns/debian12-node20 want node_bin
  want=$(node --version 2>/dev/null) || die 3 "no node binary on this machine to put in the image"
  if cached "$tag" && [ "$(docker image inspect --format '{{index .Config.Labels "notdns.node"}}' "$tag")" = "$want" ]; then
    say "$tag cached ($want)"; echo "$tag"; return 0
  fi
  # the minbase rootfs and notdns/debian-base come from start-dockerd.sh (engine + base image, cached)
  bash scripts/docker/start-dockerd.sh || exit $?
  node_bin=$(readlink -f "$(command -v node)")
  local ctx; ctx=$(mktemp -d)
  cp "$node_bin" "$ctx/node"
  mkdir -p "$ctx/node_modules"
  # npm and corepack ship with Node (NodeSource and nodejs.org put them in <prefix>/lib/node_modules)
  local libdir; libdir=$(dirname "$(dirname "$node_bin")")/lib/node_modules
  for p in npm corepack; do [ -d "$libdir/$p" ] && cp -a "$libdir/$p" "$ctx/node_modules/"; done
  [ -d "$ctx/node_modules/npm" ] || { rm -rf "$ctx"; die 3 "npm not found next to $node_bin ($libdir/npm)"; }
  cat >"$ctx/Dockerfile" <<D
FROM notdns/debian-base:$SUITE
LABEL notdns.node=$want
COPY node /usr/bin/node
COPY node_modules /usr/lib/node_modules
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/bin/npm && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/bin/npx \
 && { [ ! -d /usr/lib/node_modules/corepack ] || ln -s ../lib/node_modules/corepack/dist/corepack.js /usr/bin/corepack; } \
 && node --version && npm --version
D
  docker build -q -t "$tag" "$ctx" >"$DIR/debian12-node20-build.log" 2>&1 || { rm -rf "$ctx"; die 3 "image build failed (see $DIR/debian12-node20-build.log)"; }
  rm -rf "$ctx"
  say "$tag built ($want)"
  echo "$tag"
}

node_debs() {
  local image=${1:-} out=${2:-}
  shift 2 2>/dev/null || die 3 "usage: $0 node-debs IMAGE DIR PKG..."
  [ $# -gt 0 ] || die 3 "usage: $0 node-debs IMAGE DIR PKG..."
  cached "$image" || die 3 "image $image not found"
  if [ -s "$out/packages.txt" ]; then
    local ok=1 line
    while read -r line; do compgen -G "$out/${line%%=*}_*.deb" >/dev/null || ok=0; done <"$out/packages.txt"
    [ $ok = 1 ] && { say "$out cached"; echo "$out"; return 0; }
  fi
  local tmp; tmp=$(mktemp -d)
  local cid; cid=$(docker create "$image" true) || { rm -rf "$tmp"; die 3 "docker create $image failed"; }
  docker cp "$cid:/var/lib/dpkg/status" "$tmp/status" >/dev/null; local rc=$?
  docker rm "$cid" >/dev/null
  [ $rc = 0 ] || { rm -rf "$tmp"; die 3 "cannot read /var/lib/dpkg/status of $image"; }
  # what `apt-get install --no-install-recommends PKG...` would install on the node, versions included
  apt-get -s -q -o Dir::State::status="$tmp/status" install --no-install-recommends "$@" >"$tmp/sim" 2>&1 \
    || { cat "$tmp/sim" >&2; rm -rf "$tmp"; die 3 "apt-get cannot resolve $* against $image's packages"; }
  sed -n 's/^Inst \([^ ]*\) \(\[[^]]*\] \)\?(\([^ ]*\) .*/\1=\3/p' "$tmp/sim" >"$tmp/packages.txt"
  [ -s "$tmp/packages.txt" ] || { rm -rf "$tmp"; die 3 "apt-get says $image already has $*: nothing to download"; }
  mkdir -p "$out" && rm -f "$out"/*.deb
  local get=(apt-get download -q -o APT::Sandbox::User=root)
  # shellcheck disable=SC2046
  if ! (cd "$out" && "${get[@]}" $(cat "$tmp/packages.txt") >"$tmp/dl" 2>&1); then
    mirror >/dev/null || { rm -rf "$tmp"; exit 4; }
    say "apt-get download failed, refreshing the package lists once (apt-get update)"
    apt-get update -q >/dev/null 2>&1
    # shellcheck disable=SC2046
    (cd "$out" && "${get[@]}" $(cat "$tmp/packages.txt") >"$tmp/dl" 2>&1) \
      || { cat "$tmp/dl" >&2; rm -rf "$tmp"; die 3 "apt-get download failed"; }
  fi
  mv "$tmp/packages.txt" "$out/packages.txt"
  chmod -R a+rX "$out"
  rm -rf "$tmp"
  say "$(wc -l <"$out/packages.txt") packages in $out"
  echo "$out"
}

cmd=${1:-}
shift 2>/dev/null
case "$cmd" in kindnode-lookalike|debian12-node20|node-debs) ;; *)
  echo "usage: $0 kindnode-lookalike | debian12-node20 | node-debs IMAGE DIR PKG..." >&2; exit 64 ;; esac
engine_up || die 2 "no Docker engine is reachable (start one: scripts/docker/start-dockerd.sh --engine)"
mkdir -p "$DIR" || die 3 "cannot create $DIR"
case "$cmd" in
  kindnode-lookalike) kindnode_lookalike ;;
  debian12-node20) debian12_node20 ;;
  node-debs) node_debs "$@" ;;
esac
