#!/usr/bin/env bash
# Locust's own test suite against an installed Locust, as is and with loadkit imported in every
# Python process (README "Differences from plain Locust"). Not run by CI: it needs Locust's
# repository (its tests are not in the sdist) and ~10-15 min of 2 cores per pass.
#
#   1. fetch Locust once and export the tests of the release you test, OUTSIDE this repository:
#        git clone https://github.com/locustio/locust /tmp/locust-repo
#        git -C /tmp/locust-repo archive 2.43.0 locust/test | tar -x -C /tmp/locust-src
#   2. a venv of its own (never this repository's .venv), with loadkit and Locust's test needs:
#        python3 -m venv /tmp/locust-venv && /tmp/locust-venv/bin/pip install -e . \
#            'locust==2.43.0' cryptography 'pyquery<3' retry pytest pytest-timeout
#   3. scripts/locust_suite.sh /tmp/locust-venv /tmp/locust-src/locust/test /tmp/out [LOADKIT_DIR]
#      LOADKIT_DIR (optional): a folder holding a loadkit/ package to measure instead of the
#      installed one (e.g. `git archive HEAD loadkit | tar -x -C DIR`: edits during the run
#      then change nothing).
#
# Two full passes (OUT/plain.txt, OUT/loadkit.txt), then the tests that failed only with
# loadkit run once more each way (OUT/plain-again.txt, OUT/loadkit-again.txt): a busy machine
# fails timing tests at random, so a test counts as failing "only with loadkit" when it failed
# both times with loadkit and passed both times without. The tests run from a symlink inside
# the venv's installed locust package (locust/test), because they import themselves as
# `locust.test`. Every pass uses nice and pytest-timeout.
set -euo pipefail
venv=$(realpath "$1"); tests=$(realpath "$2"); out=$(realpath -m "$3"); extra=${4:+$(realpath "$4"):}
mkdir -p "$out/sitecustomize"
site=$("$venv/bin/python" -c 'import locust, os; print(os.path.dirname(locust.__file__))')
ln -sfn "$tests" "$site/test"
# Imported by every Python process started with PYTHONPATH set: pytest and each locust
# subprocess the tests start. Locust first, as a locustfile would.
printf 'import locust\nimport loadkit\n' >"$out/sitecustomize/sitecustomize.py"

run() {  # $1: label, $2: PYTHONPATH, $3...: tests (default: all)
    local label=$1 path=$2
    shift 2
    (cd "$out" && PATH="$venv/bin:$PATH" PYTHONPATH="$path" nice "$venv/bin/python" -m pytest \
        "${@:-$site/test}" -p no:cacheprovider --timeout 120 -q -rfE >"$out/$label.txt" 2>&1) || true
    echo "$label: $(tail -1 "$out/$label.txt")"
}
failed() { grep -E '^(FAILED|ERROR) ' "$out/$1.txt" | sed -E 's/^(FAILED|ERROR) //; s/ - .*//' | sort -u; }
with_loadkit="$extra$out/sitecustomize"

run plain ""
run loadkit "$with_loadkit"
comm -13 <(failed plain) <(failed loadkit) >"$out/only-loadkit.txt"
mapfile -t again <"$out/only-loadkit.txt"
if ((${#again[@]})); then
    run plain-again "" "${again[@]}"
    run loadkit-again "$with_loadkit" "${again[@]}"
fi
echo "fail only with loadkit (twice with it, never without):"
comm -12 "$out/only-loadkit.txt" <(failed loadkit-again 2>/dev/null || true) | comm -23 - <(failed plain-again 2>/dev/null || true)
