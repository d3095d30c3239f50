"""loadkit.fleet.resume: what a master resumes from, and the sequence check (pure parts)."""

from __future__ import annotations

import argparse
import json
from types import SimpleNamespace
from typing import Any

from locust.stats import RequestStats

from loadkit._locust.runners import stats_entry
from loadkit.fleet.resume import FORMAT, Resume, fingerprint, resumable, state_path
from loadkit.messages import Rejoin
from loadkit.stats.hdr import HdrRecorder
from loadkit.stats.timeline import Timeline


def options(**changes: object) -> argparse.Namespace:
    values: dict[str, object] = {"host": "http://x", "num_users": 4, "run_time": 40, "fleet_secret": "s1"}
    return argparse.Namespace(**{**values, **changes})


def test_the_fingerprint_is_the_command_not_its_run_time() -> None:
    assert fingerprint(options()) == fingerprint(options(run_time=12.5))  # a resumed master changes it
    assert fingerprint(options()) != fingerprint(options(num_users=5))
    assert fingerprint(options()) != fingerprint(options(fleet_secret="s2"))
    assert "s1" not in fingerprint(options())


def test_a_state_is_resumed_only_when_it_matches_and_its_end_is_ahead() -> None:
    fp = fingerprint(options())
    state = {"format": FORMAT, "fingerprint": fp, "planned_end": 2000.0}
    assert resumable(state, fp, 1000.0) is None
    assert resumable({**state, "planned_end": None}, fp, 1000.0) is None  # no --run-time
    assert resumable(state, fp, 1999.5) == "its planned end has passed"
    assert "other options" in str(resumable(state, "other", 1000.0))
    assert "not a loadkit state file" in str(resumable({**state, "format": 0}, fp, 1000.0))
    assert "not a loadkit state file" in str(resumable([], fp, 1000.0))


def test_the_state_file_sits_beside_the_json_report() -> None:
    assert str(state_path({"report_json": "out/r.json"}.get)) == "out/r.json.state"
    assert str(state_path({"report_junit": "out/j.xml"}.get)) == "out/j.json.state"
    assert state_path({}.get) is None


def test_a_report_sequence_counts_once() -> None:
    part = Resume.__new__(Resume)  # the check alone: no runner needed
    part.seqs = {"w1": 3}
    assert not part.admit("w1", {"loadkit_seq": 3})  # merged before the restart
    assert part.admit("w1", {"loadkit_seq": 4}) and not part.admit("w1", {"loadkit_seq": 4})
    assert part.admit("w2", {"loadkit_seq": 1})
    assert part.admit("w3", {"stats": []})  # no sequence (no loadkit rejoin): Locust's behaviour


def test_a_stats_entry_survives_json() -> None:
    stats = RequestStats()
    entry = stats.get("/health", "GET")
    for ms in (3, 3, 120):
        entry.log(ms, 10)
    back = stats_entry(json.loads(json.dumps(entry.serialize())), stats)
    back.stats = stats
    p99 = entry.get_response_time_percentile(0.99)
    assert back.num_requests == 3 and back.get_response_time_percentile(0.99) == p99


def test_other_parts_write_their_sections_and_restore_them_at_the_start() -> None:
    environment: Any = SimpleNamespace(runner=SimpleNamespace(stats=RequestStats()), parsed_options=None)
    before = Timeline(1_700_000_000)
    before.add(1_700_000_003, ("GET", "/x"), {412: 3})
    part = Resume(environment, HdrRecorder(), None, None)
    part.state_parts["timeline"] = before.state
    state, _ = part._take()
    saved = json.loads(json.dumps(state))
    after = Timeline()
    again = Resume(environment, HdrRecorder(), None, saved)
    again.restore_parts["timeline"] = after.restore
    again._restore(saved)
    assert after.series() == before.series()
    told: list[str] = []
    again.rejoin_listeners.append(lambda node, rejoin: told.append(node))
    again.on_rejoin(environment, Rejoin(1.0, 2, 0, rows=[5]), "w1")
    assert told == ["w1"]
