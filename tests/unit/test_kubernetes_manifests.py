"""deploy/kubernetes: every overlay renders with ``kubectl kustomize`` and validates strictly offline.

Strict: kubernetes-validate (pinned in pyproject.toml) checks each rendered object against the
schemas of Kubernetes :data:`~tests.support.kube.KUBERNETES_VERSION`, rejecting unknown fields.
Then what the manifests promise: the operator's names and labels, the fleet secret from a
Secret mounted as a file, non-root and read-only roots, resources, probes, and the ConfigMaps'
files equal to the repository's. tests/e2e/test_kubernetes.py runs them on podman.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.support import ROOT
from tests.support.kube import KUBE_DIR, KUBERNETES_VERSION, OVERLAYS, job_retries, render
from tests.support.requirements import need_command

LABELS = {"app.kubernetes.io/name": "loadkit", "app.kubernetes.io/instance": "loadkit"}
SECRET_FILE = "/var/run/secrets/loadkit/secret"


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    need_command("kubectl", "kubernetes-client")
    return render(KUBE_DIR / request.param)


def workloads(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Name -> pod spec of every Job and Deployment."""
    return {d["metadata"]["name"]: d["spec"]["template"]["spec"] for d in docs if d["kind"] in ("Job", "Deployment")}


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_every_object_validates_strictly(rendered: list[dict[str, Any]]) -> None:
    for doc in rendered:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_fetch_reports_pod_validates_strictly() -> None:
    doc = yaml.safe_load((KUBE_DIR / "fetch-reports.yaml").read_text())
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    assert doc["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "loadkit-reports"


def test_names_and_labels_follow_the_operator(rendered: list[dict[str, Any]]) -> None:
    names = {(d["kind"], d["metadata"]["name"]) for d in rendered}
    assert {("Service", "loadkit-master"), ("PersistentVolumeClaim", "loadkit-reports")} <= names
    assert {n for k, n in names if k in ("Job", "Deployment")} >= {"loadkit-master", "loadkit-worker"}
    assert any(k == "ConfigMap" and n.startswith("loadkit-locustfile-") for k, n in names)
    for doc in rendered:
        assert LABELS.items() <= doc["metadata"]["labels"].items(), doc["metadata"]
    for name, pod in workloads(rendered).items():
        assert name.startswith("loadkit-")
        assert pod["automountServiceAccountToken"] is False
    services = by_kind(rendered, "Service")
    assert services["loadkit-master"]["spec"]["ports"][0]["port"] == 5557
    assert services["loadkit-master"]["spec"]["selector"]["app.kubernetes.io/component"] == "master"
    assert {"loadkit-target-http", "loadkit-target-grpc"} <= services.keys()


def test_headless_master_is_a_job_whose_exit_code_is_the_verdict_and_a_killed_one_is_replaced() -> None:
    need_command("kubectl", "kubernetes-client")
    docs = render(KUBE_DIR / "headless")
    jobs = by_kind(docs, "Job")
    master = next(d for d in docs if d["kind"] == "Job" and d["metadata"]["name"] == "loadkit-master")
    # The verdict (1 failures, 2 bad input, 99 thresholds) fails the Job; a kill gets another pod, which resumes.
    assert not any(job_retries(master, code) for code in (1, 2, 99))
    assert job_retries(master, 137) and job_retries(master, 143)
    assert 1 <= jobs["loadkit-master"]["spec"]["backoffLimit"] <= 6
    assert jobs["loadkit-master"]["spec"]["template"]["spec"]["restartPolicy"] == "Never"  # podFailurePolicy's rule
    workers = jobs["loadkit-worker"]["spec"]
    settings = next(d["data"] for d in docs if d["metadata"]["name"].startswith("loadkit-master-settings-"))
    assert settings["LOCUST_HEADLESS"] == "true"
    assert int(settings["LOCUST_EXPECT_WORKERS"]) == workers["parallelism"]
    assert "completions" not in workers  # a work queue: done once the master has quit every worker


def test_webui_fleet_has_a_login_and_a_worker_autoscaler() -> None:
    need_command("kubectl", "kubernetes-client")
    docs = render(KUBE_DIR / "webui")
    master = workloads(docs)["loadkit-master"]["containers"][0]
    (token,) = [e for e in master["env"] if e["name"] == "LOADKIT_WEB_TOKEN"]
    assert token["valueFrom"]["secretKeyRef"] == {"name": "loadkit-webui", "key": "token"}
    assert by_kind(docs, "Service")["loadkit-webui"]["spec"]["ports"][0]["port"] == 8089
    hpa = by_kind(docs, "HorizontalPodAutoscaler")["loadkit-worker"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "loadkit-worker"


def test_pods_run_locked_down_with_resources_and_grace(rendered: list[dict[str, Any]]) -> None:
    for name, pod in workloads(rendered).items():
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 1000
        assert 0 < pod["terminationGracePeriodSeconds"] <= 30, name
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False and security["capabilities"]["drop"] == ["ALL"]
            assert {"cpu", "memory"} <= container["resources"]["limits"].keys(), name
            assert "/tmp" in {m["mountPath"] for m in container["volumeMounts"]}, name  # writable scratch
            assert "ports" not in container, f"{name}: podman would publish it on the host (see the manifests)"
        if "target" in name:
            probe = pod["containers"][0]["readinessProbe"]["exec"]["command"]
            assert probe[:3] == ["loadkit", "target", "check"], name
        if name == "loadkit-master":
            assert "readinessProbe" in pod["containers"][0]


def test_fleet_secret_is_a_secret_mounted_as_a_file(rendered: list[dict[str, Any]]) -> None:
    settings = next(d["data"] for d in rendered if d["metadata"]["name"].startswith("loadkit-settings-"))
    assert settings["LOADKIT_FLEET_SECRET_FILE"] == SECRET_FILE
    assert "LOADKIT_FLEET_SECRET" not in settings
    for name in ("loadkit-master", "loadkit-worker"):
        pod = workloads(rendered)[name]
        (volume,) = [v for v in pod["volumes"] if "secret" in v]
        assert volume["secret"]["secretName"] == "loadkit-fleet" and volume["secret"]["optional"] is False
        mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
        assert mounts[volume["name"]]["mountPath"] == str(Path(SECRET_FILE).parent)
        assert mounts[volume["name"]]["readOnly"] is True
    assert not any(d["kind"] == "Secret" for d in rendered), "a secret value committed in the manifests"


def test_configmap_files_equal_the_repository_files() -> None:
    """The base's locustfile and data are copies (kustomize reads nothing outside its folder)."""
    files = KUBE_DIR / "base" / "files"
    assert (files / "fleet.py").read_bytes() == (ROOT / "locustfiles" / "fleet.py").read_bytes()
    assert (files / "users.csv").read_bytes() == (ROOT / "data" / "users.csv").read_bytes()


def test_readme_kubectl_commands_name_what_the_manifests_hold() -> None:
    """No cluster here to run them: each path docs/kubernetes.md's commands name exists, each object is rendered."""
    need_command("kubectl", "kubernetes-client")
    section = (ROOT / "docs" / "kubernetes.md").read_text()
    commands = [line for line in section.splitlines() if "kubectl " in line]
    assert len(commands) >= 8, commands
    text = "\n".join(commands)
    for path in re.findall(r"deploy/kubernetes/[\w./-]+", text):
        assert (ROOT / path).exists(), path
    names = {(d["kind"].lower(), d["metadata"]["name"]) for o in OVERLAYS for d in render(KUBE_DIR / o)}
    names.add(("pod", yaml.safe_load((KUBE_DIR / "fetch-reports.yaml").read_text())["metadata"]["name"]))
    for kind, name in re.findall(r"\b(job|pod|service|deployment)[/ ](loadkit-[\w-]+)", text):
        assert (kind, name) in names, f"docs/kubernetes.md names {kind}/{name}, which no manifest holds"


@pytest.mark.parametrize(
    ("rules", "backoff", "code", "retried"),
    [
        ([], 0, 137, False),  # no policy: backoffLimit decides
        ([], 3, 99, True),
        ([{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [99]}}], 3, 99, False),
        ([{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [99]}}], 3, 137, True),
        ([{"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [137]}}], 3, 2, False),
        ([{"action": "Ignore", "onExitCodes": {"operator": "In", "values": [137]}}], 0, 137, True),
        (
            [{"action": "FailJob", "onExitCodes": {"containerName": "other", "operator": "In", "values": [99]}}],
            3,
            99,
            True,
        ),
    ],
)
def test_job_retries_reads_the_pod_failure_policy_as_kubernetes_does(
    rules: list[dict[str, Any]], backoff: int, code: int, retried: bool
) -> None:
    template = {"spec": {"containers": [{"name": "master"}]}}
    job = {"spec": {"backoffLimit": backoff, "podFailurePolicy": {"rules": rules}, "template": template}}
    assert job_retries(job, code) is retried
