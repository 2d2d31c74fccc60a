#!/usr/bin/env bash
# The test command (README, .ci/run): set up the machine, then run every mocha test.
# Tests that need Docker start dockerd themselves (scripts/docker/) or skip with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
exec npm test --silent
