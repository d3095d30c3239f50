"""scripts/kube_engine.py's containers.conf step: podman without rlimits it cannot set, nothing else changed."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.support.kube import engine


@pytest.mark.parametrize(
    "before",
    [
        "",
        '[engine]\nevents_logger = "file"\n',
        '[containers]\nlog_size_max = -1\n\n[engine]\ncgroup_manager = "cgroupfs"\n',
    ],
    ids=["absent", "no-containers-table", "containers-table"],
)
def test_default_ulimits_added_once_other_settings_kept(tmp_path: Path, before: str) -> None:
    module = engine()
    conf = tmp_path / "containers.conf"
    if before:
        conf.write_text(before)
    module.configure_ulimits(module.Report(), conf)
    after = tomllib.loads(conf.read_text())
    assert after["containers"]["default_ulimits"] == []
    for table, settings in tomllib.loads(before).items():
        assert settings.items() <= after[table].items()
    written = conf.read_text()
    module.configure_ulimits(module.Report(), conf)  # idempotent
    assert conf.read_text() == written


def test_an_existing_setting_is_left_alone(tmp_path: Path) -> None:
    module = engine()
    conf = tmp_path / "containers.conf"
    conf.write_text('[containers]\ndefault_ulimits = ["nofile=1024:2048"]\n')
    module.configure_ulimits(module.Report(), conf)
    assert tomllib.loads(conf.read_text())["containers"]["default_ulimits"] == ["nofile=1024:2048"]
