#!/usr/bin/env bash
# Build the workload image (workloads/Dockerfile) from a staged context. Run `npm run build` first.
#   scripts/docker/build-workload-image.sh [--offline] [--tag notdns/workloads:dev]
# --offline uses the debootstrap-based base from scripts/docker/start-dockerd.sh (started if needed) instead
# of node:20-bookworm-slim from Docker Hub.
set -euo pipefail
cd "$(dirname "$0")/../.."
TAG=${NOTDNS_WORKLOAD_IMAGE:-notdns/workloads:dev}
BASE=${NOTDNS_IMAGE_BASE:-node:20-bookworm-slim}
while [ $# -gt 0 ]; do
  case "$1" in
    --offline) BASE=notdns/node-base:bookworm; scripts/docker/start-dockerd.sh ;;
    --tag) TAG=$2; shift ;;
    *) echo "usage: $0 [--offline] [--tag IMAGE]" >&2; exit 2 ;;
  esac
  shift
done
CTX=$(mktemp -d /tmp/notdns-image.XXXXXX)
trap 'rm -rf "$CTX"' EXIT
node --input-type=module -e "
  const m = await import('./dist/harness/providers/kind/images.js');
  const s = await m.stageBuildContext(process.argv[1]);
  console.error('staged ' + s.files + ' files and ' + s.packages.length + ' packages');
" "$CTX"
docker build --tag "$TAG" --build-arg "BASE=$BASE" "$CTX"
echo "$TAG"
