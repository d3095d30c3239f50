"""The README: one quick-start command for newcomers, the test command CI runs, short enough to read."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def section_commands(heading: str) -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.DOTALL)]


def test_quick_start_is_one_command_the_demo() -> None:
    commands = section_commands("Quick start")
    assert len(commands) == 1 and "\n" not in commands[0], commands
    assert commands[0].endswith("loadkit demo")


def test_contributing_starts_with_the_test_command() -> None:
    commands = section_commands("Contributing")
    assert "pytest" in commands[0] and "\n" not in commands[0], commands


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert section_commands("Contributing")[0] in ci, ".ci/run must run the README's test command verbatim"


def test_the_readme_is_short_and_links_every_reference_page() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    for page in (ROOT / "docs").glob("*.md"):
        assert f"(docs/{page.name})" in readme, f"README.md does not link docs/{page.name}"


def test_ci_tests_the_oldest_supported_locust_too() -> None:
    """pyproject's floor `locust>=MIN,<3` is the version .ci/run installs for its second, non-e2e run."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    found = re.search(r'"locust>=([\d.]+),<3"', pyproject)
    assert found, "pyproject.toml must pin locust as >=MIN,<3"
    floor = found.group(1)
    ci = (ROOT / ".ci" / "run").read_text()
    pins = re.findall(r"'locust==([\d.]+)'", ci)
    assert pins and all(p == floor or p.startswith(f"{floor}.") for p in pins), (floor, pins)
    assert '-m "not e2e"' in ci


def test_layout_names_every_part_of_the_package() -> None:
    """docs/layout.md names every module and subpackage of loadkit/ (one word each)."""
    page = (ROOT / "docs" / "layout.md").read_text()
    layout = page.split("```text\n", 1)[1].split("```", 1)[0]
    words = set(re.findall(r"[\w.]+", layout))
    parts = {p.name for p in (ROOT / "loadkit").iterdir()}
    parts -= {"__init__.py", "__pycache__", "py.typed"}
    missing = sorted(name for name in parts if name.removesuffix(".py") not in words and name not in words)
    assert not missing, f"docs/layout.md does not mention loadkit/{missing}"


def test_layout_states_the_test_naming_rule_test_layout_enforces() -> None:
    """tests/unit/test_layout.py checks one unit file per module by this name; docs/layout.md says so."""
    page = (ROOT / "docs" / "layout.md").read_text()
    layout = page.split("```text\n", 1)[1].split("```", 1)[0]
    tests_entry = layout.split("\ntests/", 1)[1].split("\nbench/", 1)[0]
    assert "test_<package>_<module>.py" in tests_entry and "test_layout.py" in tests_entry
    assert (ROOT / "tests" / "unit" / "test_layout.py").is_file()
