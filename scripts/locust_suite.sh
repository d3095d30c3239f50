#!/usr/bin/env bash
# Locust's own test suite run against an installed Locust, as is and with loadkit imported in
# every Python process (README "Differences from plain Locust"). Not run by CI: it needs
# Locust's repository (its tests are not in the sdist) and ~15 min of 2 cores per pass.
#
#   1. fetch once:  git clone https://github.com/locustio/locust /tmp/locust-repo
#      and export the tests of the release you test, OUTSIDE this repository:
#        git -C /tmp/locust-repo archive 2.43.0 locust/test | tar -x -C /tmp/locust-src
#   2. a venv of its own (never this repo's .venv):
#        python3 -m venv /tmp/locust-venv && /tmp/locust-venv/bin/pip install -e . \
#            'locust==2.43.0' cryptography 'pyquery<3' retry pytest pytest-timeout
#   3. scripts/locust_suite.sh /tmp/locust-venv /tmp/locust-src/locust/test /tmp/out
#
# Writes OUT/plain.txt and OUT/loadkit.txt (pytest -rfE summaries) and prints the tests that
# fail only with loadkit. The tests run from a symlink inside the venv's installed locust
# package (locust/test), because they import themselves as `locust.test`.
set -euo pipefail
venv=$(realpath "$1"); tests=$(realpath "$2"); out=$(realpath -m "$3")
mkdir -p "$out/sitecustomize"
site=$("$venv/bin/python" -c 'import locust, os; print(os.path.dirname(locust.__file__))')
ln -sfn "$tests" "$site/test"
# Imported by every Python process started with PYTHONPATH set: pytest and each locust
# subprocess the tests start. Locust first, as a locustfile would.
printf 'import locust\nimport loadkit\n' >"$out/sitecustomize/sitecustomize.py"

run() {  # $1: label, $2: PYTHONPATH
    (cd "$out" && PATH="$venv/bin:$PATH" PYTHONPATH="$2" nice "$venv/bin/python" -m pytest \
        "$site/test" -p no:cacheprovider --timeout 120 -q -rfE >"$out/$1.txt" 2>&1) || true
    tail -1 "$out/$1.txt"
}
failed() { grep -E '^(FAILED|ERROR) ' "$out/$1.txt" | sed -E 's/ - .*//' | sort -u; }

echo "plain:   $(run plain "")"
echo "loadkit: $(run loadkit "$out/sitecustomize")"
echo "fail only with loadkit:"
comm -13 <(failed plain) <(failed loadkit)
