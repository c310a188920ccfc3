"""The profile schema: what a profile may say, as pydantic models (validation only, no I/O)."""

from __future__ import annotations

import functools
import operator
import re
import types
import urllib.parse
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    create_model,
    field_validator,
    model_validator,
)

from .._define.bus import DEFAULT_QUEUE, DEFAULT_SUBJECT
from .._define.policies import (
    Backoff,
    LivenessPolicy,
    LogLimit,
    RestartMode,
    RestartPolicy,
    StopPolicy,
    parse_duration,
    parse_signal,
    parse_size,
)
from .._define.service import DEFAULT_PARALLELISM, DEFAULT_START_TIMEOUT


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty (expected a non-empty string, found an empty one)")
    return value


def _not_empty(value: list[str]) -> list[str]:
    if not value:
        raise ValueError("must not be empty (expected at least one item, found an empty list)")
    return value


Text = Annotated[str, AfterValidator(_not_blank)]
"""A string that must say something: empty or blank is a mistake, not a value."""


def _program_first(value: list[str]) -> list[str]:
    if not _not_empty(value)[0].strip():
        raise ValueError("its first item, the program, must not be empty")
    return value


Argv = Annotated[list[str], AfterValidator(_program_first)]
"""A command: at least the program; an argument may be an empty string, as in a shell
(`valkey-server --save ""` turns snapshots off)."""

MAX_SECONDS = 7 * 24 * 3600.0
"""The longest duration a profile may give (a week): a wait longer than that is a mistake, and
some (1e300, inf) cannot even be waited for."""

Integer = Annotated[int, Strict()]
"""A whole number, never `true`/`false` (which pydantic would take as 1/0: `port = true` would
bind port 1) nor a string or a float."""
Seconds = Annotated[float, Strict(), Field(gt=0, le=MAX_SECONDS)]
"""A duration in seconds: a number (not a boolean), greater than 0, at most MAX_SECONDS."""
Fraction = Annotated[float, Strict(), Field(ge=0, lt=1)]
"""A share, from 0 up to (not including) 1."""
Count = Annotated[int, Strict(), Field(ge=1)]
"""How many: a whole number of at least 1 (the kinds' options use it too)."""
Port = Annotated[int, Strict(), Field(ge=1, le=65535)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProbeTable(BaseModel):
    """`ready = { tcp = "${port}" }`, `{ http = url }`, `{ exec = [...] }`, `{ log = "regex" }`:
    one or more probe keys and how long a check may take. Which keys there are, and what their
    values may be, is the probe registry's to say (_engine/probes/registry.py): this table takes
    them as they are written, and `checked_table` makes the model that checks them."""

    model_config = ConfigDict(extra="allow")

    probe_keys: ClassVar[tuple[str, ...]] = ()
    """The probe keys a checked table knows (none here: every extra key is one)."""

    timeout: Seconds | None = None

    def as_probe_dict(self) -> dict[str, Any]:
        """The probe keys written, and their values."""
        written = {k: getattr(self, k) for k in self.probe_keys}
        return {k: v for k, v in {**written, **(self.model_extra or {})}.items() if v is not None}


def strict_type(annotation: Any) -> Any:
    """A probe value's plain type as the profile takes it: a string that says something, an
    integer that is not a boolean, a list that is not empty (through unions)."""
    if annotation is str:
        return Text
    if annotation is int:
        return Integer
    if get_origin(annotation) is list:
        return Argv if get_args(annotation) == (str,) else annotation
    if get_origin(annotation) in (Union, types.UnionType):
        members = [strict_type(a) for a in get_args(annotation)]
        return functools.reduce(operator.or_, members)
    return annotation


def _checked_by(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def checked(value: Any) -> Any:
        check(value)
        return value

    return checked


class _Checked(ProbeTable):
    """What a checked table adds: at least one probe (and, set where it is made, no key beyond
    its own)."""

    @model_validator(mode="after")
    def _one_kind(self) -> _Checked:
        if not self.as_probe_dict():
            raise ValueError("a probe needs one of: " + ", ".join(self.probe_keys))
        return self


@functools.cache
def _checked(
    base: type[ProbeTable], fields: tuple[tuple[str, Any, Callable[[Any], Any]], ...]
) -> type[ProbeTable]:
    probes: dict[str, Any] = {
        key: (Annotated[strict_type(value) | None, AfterValidator(_checked_by(check))], None)
        for key, value, check in fields
    }
    namespace = {"model_config": ConfigDict(extra="forbid"), "__module__": base.__module__}
    closed: type[ProbeTable] = type(base.__name__, (_Checked, base), namespace)
    model = create_model(base.__name__, __base__=closed, __module__=base.__module__, **probes)
    model.probe_keys = tuple(key for key, _, _ in fields)
    return model


def checked_table(
    fields: dict[str, tuple[Any, Callable[[Any], Any]]], base: type[ProbeTable] = ProbeTable
) -> type[ProbeTable]:
    """`base` with the probe keys of `fields` (key: its value's plain type and its check, which
    raises ValueError for a value that says nothing useful) and no other keys."""
    return _checked(base, tuple((key, value, check) for key, (value, check) in fields.items()))


class _Table(_Strict):
    """A table that validates one of _define/policies.py's dataclasses (the runtime form). Its
    defaults are read from that dataclass, never restated, and only the keys a profile wrote
    are handed on, so the dataclass's defaults are the only ones that ever apply."""

    def written(self) -> dict[str, Any]:
        """The keys the profile wrote, validated."""
        return {k: getattr(self, k) for k in self.model_fields_set}


class StopSpec(_Table):
    """`stop = { signal = "SIGTERM", grace = 5, mode = "mixed" }`; grace in seconds or "5s".
    The keys written refine the service's own StopPolicy (`override_stop`)."""

    signal: str | Integer = StopPolicy.signal.name
    grace: Annotated[float, Strict()] | str = StopPolicy.grace
    mode: Literal["mixed", "group"] = StopPolicy.mode  # type: ignore[assignment]

    @field_validator("signal")
    @classmethod
    def _signal(cls, v: str | int) -> str | int:
        parse_signal(v)
        return v

    @field_validator("grace")
    @classmethod
    def _grace(cls, v: float | str) -> float:
        try:
            seconds = parse_duration(v)
        except ValueError:
            raise ValueError(
                f"not a duration: {v!r} (use seconds, or '500ms', '5s', '1m')"
            ) from None
        if not seconds > 0:
            raise ValueError(f"out of range (expected a duration greater than 0, found {v!r})")
        if not seconds <= MAX_SECONDS:
            raise ValueError(
                f"out of range (expected a duration of at most a week, {MAX_SECONDS:g}s, "
                f"found {v!r})"
            )
        return seconds


EnvValue = str | int | float | bool


class LogsSpec(_Table):
    """`logs = { max_size = "50MB", keep = 3 }`: a service's log file is rotated before it
    grows past max_size (bytes, or "512KB", "50MB", "1GiB"), keeping `keep` older files."""

    max_size: Integer | str = LogLimit.max_size
    keep: Annotated[int, Strict(), Field(ge=0, le=100)] = LogLimit.keep

    def to_limit(self) -> LogLimit:
        return LogLimit(**self.written())

    @field_validator("max_size")
    @classmethod
    def _size(cls, v: int | str) -> int:
        try:
            size = parse_size(v)
        except ValueError:
            raise ValueError(f"not a size: {v!r} (use bytes, or '512KB', '50MB', '1GiB')") from None
        if size < 1024:
            raise ValueError(f"out of range (expected a size of at least 1KiB, found {v!r})")
        return size


class RestartSpec(_Table):
    """`restart = { policy = "on-failure", max_restarts = 5, window = 60, backoff = "exponential",
    delay = 0.5, max_delay = 30, jitter = 0.1, half_open_after = 60 }`: a RestartPolicy."""

    policy: RestartMode = RestartPolicy.policy
    max_restarts: Annotated[Integer, Field(ge=0)] = RestartPolicy.max_restarts
    window: Seconds = RestartPolicy.window
    backoff: Backoff = RestartPolicy.backoff
    delay: Seconds = RestartPolicy.delay
    max_delay: Seconds = RestartPolicy.max_delay
    jitter: Fraction = RestartPolicy.jitter
    half_open_after: Seconds | None = RestartPolicy.half_open_after

    def to_policy(self) -> RestartPolicy:
        return RestartPolicy(**self.written())


class LivenessSpec(ProbeTable):
    """`liveness = { http = "/health", period = 5, timeout = 2, failure_threshold = 3 }`."""

    period: Seconds = LivenessPolicy.period
    failure_threshold: Annotated[Integer, Field(ge=1)] = LivenessPolicy.failure_threshold

    def to_policy(self) -> LivenessPolicy:
        """The LivenessPolicy: the keys written, LivenessPolicy's defaults for the others."""
        timing = ("period", "timeout", "failure_threshold")
        written = {k: getattr(self, k) for k in timing if k in self.model_fields_set}
        return LivenessPolicy(self.as_probe_dict(), **written)


class ServiceSpec(BaseModel):
    """One `[services.NAME]` table. Keys beyond these belong to the service's kind."""

    model_config = ConfigDict(extra="allow")

    kind: Text | None = None
    # a list of names, or { name = "restart" | "stop" | "ignore" }: what to do when it restarts
    depends_on: list[str] | dict[str, Literal["restart", "stop", "ignore"]] = []
    inject: dict[str, Text] = {}  # parameter -> the service it receives, e.g. { postgres = "db" }
    env: dict[str, EnvValue] = {}
    stop: StopSpec | None = None
    scope: Literal["session", "package", "module", "function"] | None = None
    start_timeout: Seconds | None = None
    restart: RestartSpec | None = None
    liveness: LivenessSpec | None = None
    replicas: Count | None = None  # allows `stack scale`; starts this many
    export: ExportSpec | None = None  # how it runs in a container (stack export)
    port: Port | None = None  # a fixed main port (any kind)
    task: bool | None = None  # runs to completion; dependents start once it exited 0
    watch: list[str] = []  # gitignore-style patterns under the root: a change restarts it
    ignore: list[str] = []  # changes to these never restart it (with `watch`)
    logs: LogsSpec | None = None  # its log file's size bound (default: [stack] logs)

    @property
    def dependency_names(self) -> list[str]:
        return list(self.depends_on)

    @property
    def edges(self) -> dict[str, str]:
        return dict(self.depends_on) if isinstance(self.depends_on, dict) else {}

    @property
    def extras(self) -> dict[str, Any]:
        """Kind-specific keys (everything not generic), to be validated by the kind."""
        return dict(self.model_extra or {})


class ExportSpec(_Strict):
    """`export = { image = "...", command = [...], port = 8000, env = {...}, replicas = 3 }`:
    how a service runs in a container, for `stack export compose|k8s`."""

    image: Text | None = None
    command: Argv | None = None
    port: Port | None = None
    env: dict[str, EnvValue] = {}
    replicas: Count | None = None
    ready: ProbeTable | None = None


def _env_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise ValueError(f"{value!r} is not a variable name (letters, digits and _)")
    return value


EnvName = Annotated[str, AfterValidator(_env_name)]
"""The name of an environment variable, as a shell can unset it."""


_SCHEMES = ("nats", "tls")


def _bus_url(value: str) -> str:
    if "${" in value:  # a service's handle fills it: checked against that service (_project)
        return value
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in _SCHEMES or not parts.hostname:
        raise ValueError(
            f"{value!r} is not a NATS URL: write nats://HOST:PORT, or a service of the stack's "
            'as a template, e.g. "${bus.url}"'
        )
    return value


def _subject(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*", value):
        raise ValueError(
            f"{value!r} is not a subject prefix: tokens of letters, digits, _ and -, "
            "separated by dots (no wildcards)"
        )
    return value


class EventsSpec(_Strict):
    """`events = { nats = "${bus.url}", subject = "stack", queue = 1000 }`: publish every
    lifecycle event to `<subject>.<profile>.<service>.<state>` on a NATS server, a service of the
    stack's (a template of its handle) or an external one (a URL)."""

    nats: Annotated[str, AfterValidator(_not_blank), AfterValidator(_bus_url)]
    subject: Annotated[str, AfterValidator(_subject)] = DEFAULT_SUBJECT
    queue: Annotated[int, Strict(), Field(ge=1, le=1_000_000)] = DEFAULT_QUEUE


class StackSpec(_Strict):
    """The `[stack]` table."""

    services: list[str] | None = None
    modules: list[Text] | None = None
    state_dir: Text | None = None
    parallelism: Count = DEFAULT_PARALLELISM
    start_timeout: Seconds = DEFAULT_START_TIMEOUT
    extends: Text | None = None
    include: list[Text] = []  # compose files whose services this profile builds on
    mode: Literal["single", "multi"] | None = None
    env: dict[str, str] = {}  # names of the profile's own for `stack env`/`exec`: "${svc.attr}"
    # `stack env`/`exec` give the variables each kind's clients read (PGHOST, DATABASE_URL,
    # REDIS_URL, NATS_URL, ...) unless false; `unset_env` names are neither given nor inherited
    conventional_env: Annotated[bool, Strict()] = True
    unset_env: list[EnvName] = []
    logs: LogsSpec = LogsSpec()  # every service's log size bound, unless it sets its own
    events: EventsSpec | None = None  # lifecycle events published on a NATS bus

    @model_validator(mode="after")
    def _set_and_unset(self) -> StackSpec:
        both = sorted(set(self.env) & set(self.unset_env))
        if both:
            raise ValueError(
                f"{', '.join(both)}: both in env and in unset_env; keep it in one of them"
            )
        return self


class ShutdownBenchSpec(_Strict):
    """`[bench.shutdown]`: the traffic `stack bench shutdown` stops the stack under."""

    workload: Text | None = None  # "module:factory"; called with `options`
    options: dict[str, Any] = {}
    writers: Count = 2  # threads running the workload at once


class BenchSpec(_Strict):
    """The `[bench]` table."""

    shutdown: ShutdownBenchSpec = ShutdownBenchSpec()


class ProfileSpec(_Strict):
    stack: StackSpec = StackSpec()
    services: dict[str, ServiceSpec] = {}
    bench: BenchSpec = BenchSpec()
