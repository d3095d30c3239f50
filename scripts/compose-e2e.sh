#!/usr/bin/env bash
# docker-compose.yml on a real Docker engine, as CI runs it (docs/containers.md):
#   1. scripts/container_engine.py: as root, apt-get installs docker.io, docker-compose and
#      debootstrap when missing; starts dockerd when none answers; builds a local stand-in for
#      the Dockerfile's base image when it is absent and no registry is reachable (cached);
#   2. tests/e2e/test_compose_engine.py: build once, run, scale, restart, stop (~3 min, 2 cores).
# Extra arguments go to pytest (e.g. -k stop).
set -euo pipefail
cd "$(dirname "$0")/.."

install=()
[[ "$(id -u)" == 0 ]] && install=(--install)
python3 scripts/container_engine.py setup "${install[@]}"
[[ -x .venv/bin/python ]] || { python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]'; }
LOADKIT_TESTS_STRICT=1 exec .venv/bin/python -m pytest tests/e2e/test_compose_engine.py -v "$@"
