"""Every command the README and docs/ show names the test that runs it.

The commands are read from the pages (tests/support/doc_commands.py); :data:`RUN_BY` maps each
to the tests that run it (verbatim, or with only ports and paths moved to free ones). A command
added to a page without a test, a test renamed, or an entry left after its command was edited
away fails here.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.doc_commands import ROOT, commands, doc_files

RECIPES = "tests/e2e/test_readme_recipes.py"
COMPOSE = "tests/e2e/test_compose_engine.py::test_headless_fleet_resumes_after_docker_kill_of_its_master_and_passes"
COMPOSE_SCALE = "tests/e2e/test_compose_engine.py::test_scaled_mid_run_targets_restarted_and_a_failing_threshold"
KUBE = "tests/e2e/test_kubernetes.py::test_killed_headless_master_is_replaced_resumes_takes_more_workers_and_passes"
KUBE_SCALE = KUBE  # the resumed run takes 2 more workers
KUBE_NAMES = "tests/unit/test_kubernetes_manifests.py::test_readme_kubectl_commands_name_what_the_manifests_hold"
SECRET = "tests/unit/test_compose.py::test_every_variable_is_one_locust_or_loadkit_reads"

RUN_BY: dict[str, list[str]] = {
    # README
    "python3 -m venv .venv && .venv/bin/pip install -q -e . && .venv/bin/loadkit demo": [
        "tests/e2e/test_demo_command.py::test_demo_runs_every_call_kind_on_workers_and_passes"
    ],
    ".venv/bin/loadkit target grpc --daemon --pidfile grpc.pid": [f"{RECIPES}::test_your_first_locustfile"],
    ".venv/bin/locust -f locustfiles/grpc_demo.py --headless -u 10 -t 5s": [f"{RECIPES}::test_your_first_locustfile"],
    ".venv/bin/loadkit target stop --pidfile grpc.pid": [f"{RECIPES}::test_your_first_locustfile"],
    ".venv/bin/locust -f locustfiles/grpc_demo.py --worker & .venv/bin/locust -f locustfiles/grpc_demo.py --worker &": [
        f"{RECIPES}::test_distributed"
    ],
    ".venv/bin/locust -f locustfiles/grpc_demo.py --master --expect-workers 2 --headless -u 20 -t 5s": [
        f"{RECIPES}::test_distributed"
    ],
    ".venv/bin/loadkit target http --daemon --pidfile http.pid": [f"{RECIPES}::test_ci_gating"],
    ".venv/bin/locust -f locustfiles/rest_crud.py --headless -u 10 -t 5s --threshold 'p99<500ms' "
    "--threshold 'fail_ratio<0.01' --report-junit out/junit.xml --report-html out/report.html": [
        f"{RECIPES}::test_ci_gating"
    ],
    ".venv/bin/loadkit target stop --pidfile http.pid": [
        f"{RECIPES}::test_ci_gating",
        f"{RECIPES}::test_http2_and_websocket",
    ],
    ".venv/bin/locust -f locustfiles/rest_crud.py --headless -t 8s --arrival-rate 50 --max-users 20 "
    "--threshold 'dropped_iterations==0'": [f"{RECIPES}::test_open_model"],
    ".venv/bin/loadkit target http --daemon --pidfile http.pid --http2": [f"{RECIPES}::test_http2_and_websocket"],
    ".venv/bin/locust -f locustfiles/http2_api.py --headless -u 10 -r 10 -t 5s "
    "--threshold 'GET /items/{item_id}: fail_ratio==0'": [f"{RECIPES}::test_http2_and_websocket"],
    ".venv/bin/locust -f locustfiles/websocket_echo.py --headless -u 10 -r 10 -t 5s "
    "--threshold 'ws-ttfm /ws/echo: p99<5s'": [f"{RECIPES}::test_http2_and_websocket"],
    "echo \"LOADKIT_FLEET_SECRET=$(python3 -c 'import secrets;print(secrets.token_urlsafe(32))')\" > .env": [
        "tests/e2e/test_netns_fleet.py",
        SECRET,
    ],
    "docker compose up --build": [COMPOSE],
    "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && .venv/bin/python -m pytest": [
        "tests/unit/test_readme.py::test_ci_runs_the_readme_test_command"
    ],
    ".venv/bin/python -m loadkit.config_doc > docs/options.md": [
        "tests/unit/test_config_doc.py::test_docs_options_is_current"
    ],
    # docs/containers.md
    "docker compose up --scale worker=8": [COMPOSE_SCALE],
    "export LOCUST_HEADLESS=true LOCUST_EXPECT_WORKERS=8 LOCUST_RUN_TIME=5m": [COMPOSE],
    'docker compose up -d --scale worker=8 && exit "$(docker wait "$(docker compose ps -q master)")"': [COMPOSE],
    # docs/kubernetes.md
    "kubectl create secret generic loadkit-fleet --from-literal=secret=\"$(python3 -c 'import "
    "secrets;print(secrets.token_urlsafe(32))')\"": [KUBE],
    "kubectl apply -k deploy/kubernetes/headless": [KUBE, KUBE_NAMES],
    "kubectl wait --for=condition=complete --timeout=10m job/loadkit-worker": [KUBE, KUBE_NAMES],
    "kubectl logs job/loadkit-master": [KUBE, KUBE_NAMES],
    "kubectl get job loadkit-master -o jsonpath='{.status.succeeded}'": [KUBE, KUBE_NAMES],
    'kubectl patch job loadkit-worker --type merge -p \'{"spec":{"parallelism":4}}\'': [KUBE_SCALE, KUBE_NAMES],
    "kubectl apply -f deploy/kubernetes/fetch-reports.yaml && kubectl wait --for=condition=Ready pod/loadkit-reports": [
        KUBE_NAMES
    ],
    "kubectl cp loadkit-reports:/app/loadkit-reports ./loadkit-reports": [KUBE_NAMES],
    "kubectl delete -f deploy/kubernetes/fetch-reports.yaml && kubectl delete -k deploy/kubernetes/headless": [
        KUBE_NAMES
    ],
    # docs/security.md
    "export LOADKIT_FLEET_SECRET=\"$(python3 -c 'import secrets;print(secrets.token_urlsafe(32))')\"": [
        "tests/e2e/test_secured_fleet.py::test_wire_capture"
    ],
    "locust -f locustfiles/data_driven.py --master ...": ["tests/e2e/test_secured_fleet.py::test_wire_capture"],
    "locust -f ... --worker --fleet-secret-file /run/secrets/loadkit-fleet": [
        "tests/unit/test_fleet_security.py",
    ],
}


def _shown() -> dict[str, list[str]]:
    shown: dict[str, list[str]] = {}
    for path in doc_files():
        for command in commands(path.read_text()):
            shown.setdefault(command, []).append(path.name)
    return shown


def test_every_command_shown_names_a_test() -> None:
    missing = sorted(set(_shown()) - set(RUN_BY))
    assert not missing, f"commands in README.md/docs/ that no test runs (add one and list it in RUN_BY): {missing}"


def test_every_listed_command_is_still_shown() -> None:
    stale = sorted(set(RUN_BY) - set(_shown()))
    assert not stale, f"RUN_BY lists commands no page shows any more: {stale}"


def test_every_named_test_exists() -> None:
    for command, tests in RUN_BY.items():
        for node in tests:
            path, _, name = node.partition("::")
            source = (ROOT / path).read_text() if (ROOT / path).is_file() else ""
            assert source and (not name or f"def {name}(" in source), f"{command!r}: no test {node}"


def test_the_scan_finds_commands_in_readme_and_docs() -> None:
    files = {name for names in _shown().values() for name in names}
    assert {"README.md", "containers.md", "kubernetes.md"} <= files, files
    assert all(isinstance(p, Path) for p in doc_files())
