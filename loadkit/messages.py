"""Catalogue of every custom message loadkit sends between master and workers.

A message is declared once here as a :class:`MessageType`: a namespaced name
(``loadkit:...``, so it never collides with Locust's or a user's), the frozen dataclass
of its payload, and its direction. Handlers register against these declarations (see
:mod:`loadkit.run.plugin`); :func:`decode` validates a payload on receipt and raises
:class:`MessageError`, which the receiving side logs and drops.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, TypeVar

from loadkit.run.context import StashKey, run_context

P = TypeVar("P")


class Direction(Enum):
    TO_WORKER = "master->worker"
    TO_MASTER = "worker->master"


class MessageError(ValueError):
    """A received payload does not match its declaration."""


log = logging.getLogger("loadkit.fleet")

#: Offenders remembered by name; beyond, they are counted together.
MAX_OFFENDERS = 10_000


@dataclass
class Offenders:
    """Drops, counted per offender; the first drop of each offender logs one line."""

    logger: logging.Logger = log
    limit: int = MAX_OFFENDERS
    dropped: dict[str, int] = field(default_factory=dict)
    others: int = 0

    def drop(self, offender: str, reason: str) -> None:
        count = self.dropped.get(offender)
        if count is not None:
            self.dropped[offender] = count + 1
            return
        if len(self.dropped) >= self.limit:
            if not self.others:
                self.logger.warning("loadkit: more than %d peers sent bad messages: no more lines per peer", self.limit)
            self.others += 1
            return
        self.dropped[offender] = 1
        self.logger.warning(
            "loadkit: dropped %s from %s (more from it are dropped silently); "
            "if it is yours, run it with the master's loadkit and fleet secret",
            reason,
            offender,
        )

    @property
    def total(self) -> int:
        return sum(self.dropped.values()) + self.others

    def summary(self) -> str | None:
        """One line for the end of the run, or None when nothing was dropped."""
        if not self.total:
            return None
        return f"loadkit: dropped {self.total} message(s) from {len(self.dropped) + self.others} peer(s) during the run"


#: The run's offenders, in its stash: every drop of the run (frames, gate, payloads) is told together.
OFFENDERS: StashKey[Offenders] = StashKey("offenders")


def offenders_of(environment: Any) -> Offenders:
    """The :class:`Offenders` of ``environment``'s run (created on first use); two runs share none."""
    return run_context(environment).setdefault(OFFENDERS, Offenders())


@dataclass(frozen=True)
class MessageType(Generic[P]):
    name: str
    payload: type[P]
    direction: Direction

    def __post_init__(self) -> None:
        if not self.name.startswith("loadkit:"):
            raise ValueError(f"message name {self.name!r} must start with 'loadkit:'")

    def encode(self, payload: P) -> dict[str, Any]:
        if not isinstance(payload, self.payload):
            raise TypeError(f"{self.name} carries {self.payload.__name__}, not {type(payload).__name__}")
        return dataclasses.asdict(payload)  # type: ignore[call-overload]

    def decode(self, data: Any) -> P:
        if not isinstance(data, dict):
            raise MessageError(f"{self.name}: payload must be a mapping, got {type(data).__name__}")
        fields = {f.name for f in dataclasses.fields(self.payload)}  # type: ignore[arg-type]
        unknown = set(data) - fields
        if unknown:
            raise MessageError(f"{self.name}: unknown field(s) {sorted(unknown)}")
        try:
            return self.payload(**data)
        except (TypeError, ValueError) as exc:
            raise MessageError(f"{self.name}: {exc}") from exc


#: Every declared message, by name. Declare with :func:`declare`.
CATALOGUE: dict[str, MessageType[Any]] = {}


def declare(name: str, payload: type[P], direction: Direction) -> MessageType[P]:
    """Declare a message once; a second declaration of the same name is a bug."""
    if name in CATALOGUE:
        raise ValueError(f"message {name!r} is declared twice")
    msg = MessageType(name, payload, direction)
    CATALOGUE[name] = msg
    return msg


# --- declarations -------------------------------------------------------------------
# (one block per feature: payload dataclass(es), then declare(...))


def register_handler(runner: Any, message: MessageType[P], handler: Any, offenders: Any = None) -> None:
    """Register ``handler(environment, payload, node_id)`` for ``message`` on a Locust runner.

    The payload is decoded against the declaration first; a malformed one is dropped (and
    its sender named once in the run's :class:`Offenders`), so a bad message never
    reaches the handler nor crashes the runner.
    """

    def on_message(environment: Any, msg: Any, **_kw: Any) -> None:
        try:
            payload = message.decode(msg.data)
        except MessageError as exc:  # one line per offender, not per message
            told = offenders_of(environment) if offenders is None else offenders
            told.drop(str(msg.node_id), f"a malformed {message.name} message ({exc})")
            return
        handler(environment, payload, msg.node_id)

    runner.register_message(message.name, on_message)


def send(runner: Any, message: MessageType[P], payload: P, client_id: str | None = None) -> None:
    """Send a declared message through a Locust runner (master: to ``client_id``)."""
    runner.send_message(message.name, message.encode(payload), client_id=client_id)


def _require(ok: bool, what: str) -> None:
    if not ok:
        raise ValueError(what)


# --- fleet: test-data leasing (loadkit.fleet.leasing) --------------------------------
#: Rows one request may ask for (--loadkit-data-batch is at most this).
MAX_ROWS_PER_REQUEST = 10_000  # = the --loadkit-data-batch maximum (loadkit.config)
#: Row numbers one request may acknowledge or give back.
MAX_SEQS_PER_REQUEST = 100_000


@dataclass(frozen=True)
class DataRequest:
    """A worker wants ``want`` more rows; it acknowledges ``acks`` and gives back ``releases``."""

    want: int
    acks: list[int]
    releases: list[int]

    def __post_init__(self) -> None:
        _require(
            isinstance(self.want, int) and 0 <= self.want <= MAX_ROWS_PER_REQUEST,
            f"want must be an int from 0 to {MAX_ROWS_PER_REQUEST}, got {self.want!r}",
        )
        for name in ("acks", "releases"):
            seqs = getattr(self, name)
            _require(
                isinstance(seqs, list) and len(seqs) <= MAX_SEQS_PER_REQUEST and all(isinstance(s, int) for s in seqs),
                f"{name} must be at most {MAX_SEQS_PER_REQUEST} ints",
            )


@dataclass(frozen=True)
class DataGrant:
    """Rows for a worker as ``[seq, row]`` pairs; ``status`` is ok, wait or exhausted."""

    rows: list[list[Any]]
    status: str

    def __post_init__(self) -> None:
        _require(self.status in ("ok", "wait", "exhausted"), f"unknown status {self.status!r}")
        _require(
            isinstance(self.rows, list)
            and all(
                isinstance(r, list | tuple) and len(r) == 2 and isinstance(r[0], int) and isinstance(r[1], dict)
                for r in self.rows
            ),
            "rows must be [seq, object] pairs",
        )


DATA_REQUEST = declare("loadkit:data_request", DataRequest, Direction.TO_MASTER)
DATA_GRANT = declare("loadkit:data_grant", DataGrant, Direction.TO_WORKER)


# --- fleet: load-generator health (loadkit.fleet.health) -----------------------------
#: Metrics in one health sample, and characters in a metric's name.
MAX_HEALTH_METRICS = 64
MAX_METRIC_NAME = 64


@dataclass(frozen=True)
class HealthReport:
    """One health sample of a worker: metric name -> number (see loadkit.fleet.health).

    Not a message of its own: samples ride in a worker's stats report (``loadkit_health``); each is
    checked by constructing this (``ValueError`` when malformed).
    """

    sample: dict[str, float]

    def __post_init__(self) -> None:
        _require(
            isinstance(self.sample, dict)
            and len(self.sample) <= MAX_HEALTH_METRICS
            and all(
                isinstance(k, str) and len(k) <= MAX_METRIC_NAME and isinstance(v, int | float)
                for k, v in self.sample.items()
            ),
            f"sample must map at most {MAX_HEALTH_METRICS} names (<= {MAX_METRIC_NAME} chars) to numbers",
        )


# --- fleet: same loadkit version on every node (loadkit.fleet.version) ---------------
@dataclass(frozen=True)
class Hello:
    """A worker's first loadkit message: the loadkit version it runs."""

    version: str

    def __post_init__(self) -> None:
        _require(isinstance(self.version, str) and bool(self.version), "version must be a non-empty string")


@dataclass(frozen=True)
class Refusal:
    """The master will not use this worker; ``reason`` is the one-line error both sides print."""

    reason: str

    def __post_init__(self) -> None:
        _require(isinstance(self.reason, str), "reason must be a string")


HELLO = declare("loadkit:hello", Hello, Direction.TO_MASTER)
REFUSED = declare("loadkit:refused", Refusal, Direction.TO_WORKER)


# --- load: the open model's fleet split (loadkit.load) --------------------------------
def _number(value: Any, least: float = 0.0) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value and value >= least


@dataclass(frozen=True)
class ArrivalPlan:
    """The fleet schedule and this worker's share of it, from iteration ``from_iteration`` on.

    ``epoch`` is the wall-clock time (``time.time()``) of the schedule's t = 0; ``rate``
    (constant) or ``stages`` (``[[seconds, target], ...]``) is the fleet's profile; the worker
    runs iterations ``k % slots == slot`` (``slot`` -1: none) on a pool of ``pool`` users.
    ``active`` False: stop. ``run`` names the schedule, so a stale plan never mixes in.
    ``host`` is the master's ``--host``: pool users are created before Locust's own spawn
    message (which carries it) reaches the worker, so the plan brings it. ``status_interval_s``:
    how often the worker sends its ``loadkit:arrival_status`` (the master widens it for big fleets).
    """

    run: str
    active: bool
    epoch: float = 0.0
    rate: float | None = None
    stages: list[list[float]] = dataclasses.field(default_factory=list)
    max_lateness_s: float = 10.0
    from_iteration: int = 0
    slot: int = -1
    slots: int = 0
    pool: int = 0
    host: str = ""
    status_interval_s: float = 0.5

    def __post_init__(self) -> None:
        _require(isinstance(self.run, str) and 0 < len(self.run) <= 64, "run must be a short string")
        ok = _number(self.status_interval_s) and 0.1 <= self.status_interval_s <= 60
        _require(ok, "status_interval_s must be a number in [0.1, 60]")
        _require(isinstance(self.host, str) and len(self.host) <= 2048, "host must be a URL string")
        _require(isinstance(self.active, bool), "active must be a bool")
        _require(_number(self.epoch), "epoch must be a time")
        _require(self.rate is None or _number(self.rate), "rate must be a number >= 0")
        _require(
            isinstance(self.stages, list)
            and len(self.stages) <= 10_000
            and all(isinstance(s, list | tuple) and len(s) == 2 and all(_number(v) for v in s) for s in self.stages),
            "stages must be [seconds, rate] pairs",
        )
        _require(not self.active or self.rate is not None or bool(self.stages), "an active plan needs a profile")
        _require(_number(self.max_lateness_s), "max_lateness_s must be a number >= 0")
        for name in ("from_iteration", "slots", "pool"):
            value = getattr(self, name)
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            _require(ok, f"{name} must be an int >= 0")
        _require(isinstance(self.slot, int) and -1 <= self.slot < max(self.slots, 1), "slot out of range")


@dataclass(frozen=True)
class ArrivalStatus:
    """A worker's iterations in schedule ``run``: cumulative totals, and starts per second since its last status."""

    run: str
    totals: dict[str, float]
    timeline: dict[str, int] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        _require(isinstance(self.run, str) and len(self.run) <= 64, "run must be a short string")
        _require(
            isinstance(self.totals, dict)
            and len(self.totals) <= 16
            and all(isinstance(k, str) and _number(v) for k, v in self.totals.items()),
            "totals must map names to numbers >= 0",
        )
        _require(
            isinstance(self.timeline, dict)
            and len(self.timeline) <= 3600
            and all(isinstance(k, str) and isinstance(v, int) and v >= 0 for k, v in self.timeline.items()),
            "timeline must map seconds to counts >= 0",
        )


ARRIVAL_PLAN = declare("loadkit:arrival_plan", ArrivalPlan, Direction.TO_WORKER)
ARRIVAL_STATUS = declare("loadkit:arrival_status", ArrivalStatus, Direction.TO_MASTER)


# --- fleet: a master that resumes after a restart (loadkit.fleet.resume, loadkit.fleet.rejoin) ----
@dataclass(frozen=True)
class Checkpointed:
    """The master holds this worker's reports up to ``seq`` in its state file: the worker may forget them."""

    seq: int

    def __post_init__(self) -> None:
        _require(_count(self.seq), "seq must be an int >= 0")


@dataclass(frozen=True)
class Rejoin:
    """A worker that lost its master is back: when it last heard a master (``time.time()``), the last
    report it numbered (``seq``), how many it holds, and its test-data rows (:mod:`loadkit.fleet.ledger`)."""

    lost_at: float
    seq: int
    held: int
    #: Test-data rows it holds (leased, not yet used up) and used since the master's last state write.
    rows: list[int] = field(default_factory=list)
    done: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        _require(_number(self.lost_at), "lost_at must be a time")
        _require(_count(self.seq), "seq must be an int >= 0")
        _require(_count(self.held), "held must be an int >= 0")
        for name in ("rows", "done"):
            seqs = getattr(self, name)
            _require(
                isinstance(seqs, list) and len(seqs) <= MAX_SEQS_PER_REQUEST and all(_count(s) for s in seqs),
                f"{name} must be at most {MAX_SEQS_PER_REQUEST} ints >= 0",
            )


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


CHECKPOINTED = declare("loadkit:checkpointed", Checkpointed, Direction.TO_WORKER)
REJOIN = declare("loadkit:rejoin", Rejoin, Direction.TO_MASTER)
