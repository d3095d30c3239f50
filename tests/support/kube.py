"""deploy/kubernetes, rendered with ``kubectl kustomize`` and run with ``podman kube play``.

:func:`render` builds an overlay the way ``kubectl apply -k`` would; :func:`overlay` writes a
user's own overlay (settings merged into the generated ConfigMaps, the worker Job's
parallelism) in a temporary folder, as a user customises the manifests without editing them.

No cluster runs here: podman plays Pods, Deployments, ConfigMaps, Secrets and
PersistentVolumeClaims, but neither Services nor Jobs, and its pods find each other by pod
name (its network's DNS). :func:`for_podman` is the one test-only step, and all it changes:

- a Job becomes Pods with the Job's pod template: one named like the Job when it runs one pod
  (the master: ``loadkit-master``, the name of its Service), else ``<job>-<i>`` for each of its
  ``parallelism`` pods (the workers: ``loadkit-worker-0`` ...), as Kubernetes names them
  ``<job>-<random>``;
- a Deployment of one replica becomes a Pod named like the Deployment, which is its Service's
  name (podman would name it ``<deployment>-pod-0``, which no DNS name of Kubernetes matches);
- Services and HorizontalPodAutoscalers are left out (podman runs neither; the pods carry the
  Services' names).

Nothing in a pod spec changes: containers (image, command, env, mounts, security context,
resources, probes), volumes, restart policy and grace period are played as rendered.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from tests.support import ROOT
from tests.support.requirements import require

KUBE_DIR = ROOT / "deploy" / "kubernetes"
OVERLAYS = ("headless", "webui")
#: The Kubernetes version the manifests are validated against (kubernetes-validate's schemas).
KUBERNETES_VERSION = "1.32.0"
#: The fleet secret the test's Secret holds (what `kubectl create secret generic` would make).
FLEET_SECRET = "kube-e2e-fleet-secret-0123456789"
#: Prefix of each fleet's own network: one per test process, so two sessions on one machine never
#: share (or remove) a network, and a network left broken by a killed session is never reused
#: (podman 4.3's DNS, aardvark, keeps answering a removed network's old gateway until restarted).
NETWORK = "loadkit-kube-e2e"

Doc = dict[str, Any]


def kubectl(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kubectl", *args], capture_output=True, text=True, timeout=timeout, check=False)


def render(path: Path) -> list[Doc]:
    """``kubectl kustomize PATH``: every object of an overlay (the deprecation warnings dropped)."""
    done = kubectl("kustomize", str(path))
    assert done.returncode == 0, f"kubectl kustomize {path}: {done.stderr.strip()}"
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def overlay(
    workdir: Path, base: str, settings: dict[str, str], workers: int | None = None, image: str | None = None
) -> Path:
    """A user's overlay of ``deploy/kubernetes/<base>``: ``settings`` merged into the master's ConfigMap,
    the worker Job's parallelism, and ``image`` (``NAME:TAG``) for ``loadkit:local`` as
    ``kustomize edit set image`` writes it (docs/kubernetes.md)."""
    workdir.mkdir(parents=True, exist_ok=True)
    kustomization: Doc = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        # Relative (kustomize refuses an absolute one); `bases`: Debian's kubectl 1.20 reads folders only there.
        "bases": [os.path.relpath(KUBE_DIR / base, workdir)],
        "configMapGenerator": [
            {
                "name": "loadkit-master-settings",
                "behavior": "merge",
                "literals": [f"{key}={value}" for key, value in settings.items()],
            }
        ],
    }
    if image is not None:
        name, _, tag = image.partition(":")
        kustomization["images"] = [{"name": "loadkit", "newName": name, "newTag": tag}]
    if workers is not None:
        patch = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "loadkit-worker"}}
        patch["spec"] = {"parallelism": workers}
        (workdir / "workers.yaml").write_text(yaml.safe_dump(patch))
        kustomization["patchesStrategicMerge"] = ["workers.yaml"]
    (workdir / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return workdir


def _pod(name: str, template: Doc) -> Doc:
    metadata = {**template.get("metadata", {}), "name": name}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"]}


def for_podman(docs: list[Doc]) -> list[Doc]:
    """What podman can play, changed only as the module docstring says."""
    played: list[Doc] = []
    for doc in docs:
        kind, name, spec = doc["kind"], doc["metadata"]["name"], doc.get("spec", {})
        if kind == "Job":
            count = int(spec.get("parallelism", 1))
            names = [name] if count == 1 else [f"{name}-{i}" for i in range(count)]
            played += [_pod(pod, spec["template"]) for pod in names]
        elif kind == "Deployment" and int(spec.get("replicas", 1)) == 1:
            played.append(_pod(name, spec["template"]))
        elif kind not in ("Service", "HorizontalPodAutoscaler"):
            played.append(doc)
    return played


def secret(name: str = "loadkit-fleet", value: str = FLEET_SECRET) -> Doc:
    """The Secret `kubectl create secret generic NAME --from-literal=secret=VALUE` creates."""
    data = {"secret": base64.b64encode(value.encode()).decode()}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": "Opaque", "data": data}


def engine() -> ModuleType:
    """``scripts/kube_engine.py`` as a module (it imports its sibling container_engine.py)."""
    spec = importlib.util.spec_from_file_location("kube_engine", ROOT / "scripts" / "kube_engine.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def need_kube_engine(image: str) -> ModuleType:
    """podman set up and ``image`` (the session's, built by Docker: tests/support/image.py) copied into
    podman unless it has that very image; else skip/fail."""
    module = engine()
    try:
        report = module.ensure(install=False)
        module.transfer_image(report, image)
    except module.EngineUnavailable as exc:
        require(f"needs podman and a Docker engine: {exc}")
    print(f"\nkube engine: {report.steps}")
    return module


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check:
        assert done.returncode == 0, f"podman {' '.join(args)}: {done.stderr.strip()[-2000:]}"
    return done


def job_retries(job: Doc, exit_code: int) -> bool:
    """Whether Kubernetes starts another pod of ``job`` after one failed with ``exit_code`` (pure).

    The first ``podFailurePolicy`` rule whose ``onExitCodes`` matches decides (``FailJob``: no;
    ``Ignore``, ``Count``: yes); without one, a pod is retried while ``backoffLimit`` allows (> 0).
    """
    spec = job["spec"]
    containers = [c["name"] for c in spec["template"]["spec"]["containers"]]
    for rule in (spec.get("podFailurePolicy") or {}).get("rules", []):
        codes = rule.get("onExitCodes")
        if codes is None or codes.get("containerName", containers[0]) not in containers:
            continue
        listed = exit_code in codes["values"]
        if listed if codes["operator"] == "In" else not listed:
            return bool(rule["action"] != "FailJob")
    return int(spec.get("backoffLimit", 6)) > 0


@dataclass
class KubeFleet:
    """Rendered manifests played on podman, on a network of their own; :meth:`down` removes it all."""

    workdir: Path
    #: The image for ``loadkit:local`` in :meth:`render`'s overlays (the session's: tests/support/image.py).
    image: str | None = None
    network: str = field(default_factory=lambda: f"{NETWORK}-{os.getpid()}")
    pods: list[str] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)
    #: Volumes there before the first play; any other is this fleet's (ConfigMaps, Secrets,
    #: claims and emptyDirs: podman 4.3 makes each a named volume).
    volumes_before: set[str] | None = None

    def render(self, name: str, base: str, settings: dict[str, str], workers: int | None = None) -> list[Doc]:
        """A user's overlay of ``base`` (:func:`overlay`, with this fleet's image), rendered."""
        return render(overlay(self.workdir / name, base, settings, workers, self.image))

    def play(self, docs: list[Doc], only: set[str] | None = None) -> list[Doc]:
        """``podman kube play`` of :func:`for_podman` (the pods named in ``only``, if given); the pods played."""
        played = [d for d in for_podman(docs) if only is None or d["kind"] != "Pod" or d["metadata"]["name"] in only]
        if only is not None:  # the others are already there: only the new pods (and their ConfigMaps)
            played = [d for d in played if d["kind"] in ("Pod", "ConfigMap")]
        if self.volumes_before is None:
            self.volumes_before = set(podman("volume", "ls", "-q").stdout.split())
            podman("network", "create", self.network, check=False)
        for doc in played:
            kind, name = doc["kind"], doc["metadata"]["name"]
            if kind == "Pod" and name not in self.pods:
                self.pods.append(name)
            elif kind == "Secret":
                self.secrets.add(name)
        path = self.workdir / f"play-{len(self.pods)}-{time.monotonic_ns()}.yaml"
        path.write_text(yaml.safe_dump_all(played))
        podman("kube", "play", "--network", self.network, str(path), timeout=300)
        return [d for d in played if d["kind"] == "Pod"]

    @staticmethod
    def clear_leftovers() -> None:
        """What a fleet killed before its :meth:`down` left (the manifests' names are fixed)."""
        for pod in podman("pod", "ps", "-q", "--filter", "name=^loadkit-", check=False).stdout.split():
            podman("pod", "rm", "-f", "-t", "0", pod, check=False)
        podman("volume", "rm", "-f", "loadkit-reports", check=False)
        for name in ("loadkit-fleet", "loadkit-fleet-other"):
            podman("secret", "rm", name, check=False)
        for network in podman("network", "ls", "-q", "--filter", f"name=^{NETWORK}", check=False).stdout.split():
            podman("network", "rm", network, check=False)  # not forced: one in use is another session's

    def container(self, pod: str) -> str:
        """The pod's (only) container: podman names it ``<pod>-<container>``."""
        names = podman("pod", "inspect", pod, "--format", "{{range .Containers}}{{.Name}} {{end}}").stdout.split()
        (name,) = [n for n in names if not n.endswith("-infra")]
        return name

    def logs(self, pod: str) -> str:
        done = podman("logs", self.container(pod), check=False)
        return done.stdout + done.stderr

    def wait(self, pod: str, timeout: float) -> int:
        """The pod's container's exit code once it has exited."""
        return int(podman("wait", self.container(pod), timeout=timeout).stdout.strip())

    def running(self, pod: str) -> bool:
        state = podman("inspect", self.container(pod), "--format", "{{.State.Running}}", check=False)
        return state.stdout.strip() == "true"

    def stop(self, pod: str, grace: int) -> tuple[float, int]:
        """SIGTERM to the pod's container, SIGKILL after ``grace`` s, as the kubelet does: seconds and exit code.

        The container, not the pod: ``podman pod stop`` stops the pod's infra container at the same
        time, and with it the network a stopping master needs to tell its workers to quit (the
        kubelet keeps a pod's sandbox until its containers have exited).
        """
        started = time.monotonic()
        podman("stop", "-t", str(grace), self.container(pod), timeout=grace + 60)
        seconds = time.monotonic() - started
        code = podman("inspect", self.container(pod), "--format", "{{.State.ExitCode}}").stdout.strip()
        return seconds, int(code)

    def kill(self, pod: str) -> int:
        """SIGKILL to the pod's container (what the OOM killer or a lost node does): its exit code."""
        podman("kill", self.container(pod))
        return self.wait(pod, timeout=30)

    def start_again(self, pod: str) -> None:
        """The master's replacement, as podman can show it: its container started again from the
        same spec, in the same pod, on the same volumes (the reports claim).

        Kubernetes' Job makes a new pod with a new address, but workers reach it through the
        Service, whose name always resolves. podman has no Service: a new pod here would leave
        the name unresolvable until it is up (a worker's lookup then waits ~40 s on the DNS
        server's upstream), so the pod, its address and its name are kept, as a Service keeps them.
        """
        podman("start", self.container(pod), timeout=120)

    def python(self, pod: str, code: str) -> Any:
        """``code`` run by the image's python in the pod's container; its stdout as JSON (None on failure)."""
        done = podman("exec", self.container(pod), "python", "-c", code, check=False, timeout=60)
        return json.loads(done.stdout) if done.returncode == 0 and done.stdout.strip() else None

    def reports_folder(self) -> Path:
        return Path(podman("volume", "inspect", "loadkit-reports", "--format", "{{.Mountpoint}}").stdout.strip())

    def report(self) -> Any:
        mount = podman("volume", "inspect", "loadkit-reports", "--format", "{{.Mountpoint}}").stdout.strip()
        return json.loads(Path(mount, "fleet.json").read_text())

    def dump(self) -> str:
        """Every pod's state and log tail (printed by the fixture: pytest shows it on failure)."""
        out = []
        for pod in self.pods:
            state = podman("pod", "inspect", pod, "--format", "{{.State}}", check=False).stdout.strip()
            try:
                out.append(f"--- {pod} {state}\n{self.logs(pod)[-3000:]}")
            except (AssertionError, ValueError):  # no such pod, or it has no container (failed to play)
                out.append(f"--- {pod} {state or 'absent'}")
        return "\n".join(out)

    def down(self) -> list[str]:
        """Remove every pod, volume, secret and the network; returns the pods still there (should be none)."""
        # One command each (a podman process per pod or volume took ~13 s for 8 pods and their volumes).
        if self.pods:
            podman("pod", "rm", "--ignore", "-f", "-t", "0", *self.pods, check=False, timeout=180)
        volumes = set(podman("volume", "ls", "-q", check=False).stdout.split()) - (self.volumes_before or set())
        if volumes:
            podman("volume", "rm", "-f", *sorted(volumes), check=False, timeout=180)
        for name in self.secrets:
            podman("secret", "rm", name, check=False)
        podman("network", "rm", "-f", self.network, check=False)
        left = podman("pod", "ps", "--format", "{{.Name}}", check=False).stdout.split()
        return [pod for pod in left if pod in self.pods]
