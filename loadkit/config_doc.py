"""``docs/options.md``, generated from :mod:`loadkit.config` (one source for every option).

Regenerate with ``python -m loadkit.config_doc > docs/options.md``;
``tests/unit/test_config_doc.py`` fails when the file is stale.
"""

from __future__ import annotations

import sys

from loadkit.config import OPTIONS, RENAMED, Option


def markdown() -> str:
    """``docs/options.md``: every option by group, with its variable, default and help."""
    lines = [
        "# loadkit options",
        "",
        "<!-- Generated from loadkit/config.py by `python -m loadkit.config_doc > docs/options.md`; do not edit. -->",
        "",
        "loadkit adds these options to Locust's own (`locust --help` lists them under `loadkit: ...`).",
        "Each is a flag, an environment variable, or a `locust.conf` / `pyproject.toml` key (the flag's",
        "name without `--`), as Locust's own options are.",
        "",
        "**Naming rule**: the variable of `--NAME` is `LOADKIT_` + `NAME` without a leading `loadkit-`,",
        "upper-cased, `-` as `_`, singular as the flag (`--threshold` → `LOADKIT_THRESHOLD`,",
        "`--loadkit-data` → `LOADKIT_DATA`). `LOCUST_` + the same name is refused (exit 2): Locust would",
        "ignore it. Old names still read, with a warning: "
        + ", ".join(f"`{old}` → `{new}`" for old, new in RENAMED.items())
        + ".",
    ]
    groups: dict[str, list[Option]] = {}
    for opt in OPTIONS:
        groups.setdefault(opt.group, []).append(opt)
    for group, options in groups.items():
        lines += ["", f"## {group}", "", "| flag | variable | default | what |", "|---|---|---|---|"]
        for opt in options:
            default = "" if opt.default in (None, False) else f"`{opt.default}`"
            text = " ".join(opt.help.split()).replace("|", "\\|")
            lines.append(f"| `{opt.flag}` | `{opt.env_var}` | {default} | {text} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
