#!/usr/bin/env bash
# Prepare a fresh Debian 12 machine (as root) for notdns: Debian packages, npm dependencies, build.
#   bash scripts/setup.sh              what `notdns run` needs on the lab
#   bash scripts/setup.sh --test       plus what the test suite needs (chromium for the report test,
#                                      docker.io + debootstrap for the workload-image tests, hping3,
#                                      prometheus for the --metrics-listen scrape test)
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0; [ "${1:-}" = "--test" ] && want_test=1

if [ "$(id -u)" != 0 ]; then
  echo "setup: run me as root (the lab needs network namespaces; apt-get needs root)" >&2; exit 2
fi
if ! command -v node >/dev/null || ! node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)'; then
  echo "setup: Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none)). Install Node 20 (e.g. NodeSource) and re-run." >&2; exit 2
fi

# the lab: iproute2 (ip, tc, nstat), nftables, conntrack, the BPF toolchain for the ENA simulator,
# unbound (node-local DNS) + nsd (upstream), dig, socat (echo service), python3-grpcio (the C-core client of
# rollout-syn-flood-ccore, run with /usr/bin/python3)
pkgs=(iproute2 nftables conntrack clang llvm libbpf-dev bpftool unbound nsd dnsutils socat procps util-linux python3-grpcio)
[ $want_test = 1 ] && pkgs+=(hping3 chromium docker.io debootstrap prometheus)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts the packaged daemons in the root namespace on install where systemd runs: the lab runs its own
# copies inside its namespaces, so stop the system ones (they would only listen on the host's loopback).
# The same for prometheus (--test): the scrape test runs its own instance on a free 127.0.0.1 port.
for svc in unbound nsd prometheus; do
  if command -v systemctl >/dev/null && systemctl is-active -q "$svc" 2>/dev/null; then systemctl stop "$svc" || true; fi
done

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run build --silent
echo "setup: ok ($(node --version), $(ip -V))"
