"""The Option record: its variable follows the naming rule, a section stamps its help group."""

from __future__ import annotations

from loadkit.config_option import Option, section


def test_env_var_and_dest_follow_the_naming_rule() -> None:
    assert Option("--trace-sample-ratio", "h").env_var == "LOADKIT_TRACE_SAMPLE_RATIO"
    assert Option("--loadkit-data", "h").env_var == "LOADKIT_DATA"
    assert Option("--trace-sample-ratio", "h").dest == "trace_sample_ratio"


def test_a_section_names_the_help_group_and_keeps_the_rest() -> None:
    (opt,) = section("traces", [Option("--trace-state", "h", default="x")])
    assert (opt.group, opt.flag, opt.default) == ("loadkit: traces", "--trace-state", "x")
