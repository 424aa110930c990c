"""Settings: ``config.yaml`` parsed once into one frozen, typed object; the environment overrides it."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from hub.errors import ConfigError, Problem
from hub.yamlfile import Locator, PathPart, dotted, load_yaml, split_msgspec_error

#: Twilio's default opt-out / opt-in keywords (SPEC §4, TWILIO.md §4.2).
DEFAULT_OPT_OUT = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT")
DEFAULT_OPT_IN = ("START", "UNSTOP", "YES")


class Secret:
    """A string that never shows itself in a repr, a log line or an error."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The real value, for the one call that needs it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def redact_url(url: str) -> str:
    """``redis://:pw@host/0`` -> ``redis://:***@host/0``: safe to log."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


# Ranges checked when the file and the environment are read (constructing a Struct in code does not check them).
#: A rate or a duration: above 0 and finite.
Positive = Annotated[float, msgspec.Meta(gt=0, le=1_000_000)]
#: A count or a whole-number duration of at least 1.
AtLeastOne = Annotated[int, msgspec.Meta(ge=1)]
NonNegative = Annotated[int, msgspec.Meta(ge=0)]
#: A probability.
Share = Annotated[float, msgspec.Meta(ge=0, le=1)]


class DatabaseSettings(_Section, frozen=True):
    #: ``postgresql://...`` or ``embedded`` (a PostgreSQL server the hub starts itself, data in ``.hub/pgdata``).
    url: str = "embedded"

    def __repr__(self) -> str:
        return f"DatabaseSettings(url={redact_url(self.url)!r})"

    @property
    def is_embedded(self) -> bool:
        return self.url == "embedded"


class RedisSettings(_Section, frozen=True):
    #: ``redis://...`` or ``embedded`` (an in-process fakeredis, only valid for ``hub run``).
    url: str = "embedded"
    #: Prefix of every key the hub writes (queues, limits, budget), so deployments can share one Redis.
    namespace: str = "hub"

    def __repr__(self) -> str:
        return f"RedisSettings(url={redact_url(self.url)!r}, namespace={self.namespace!r})"

    @property
    def is_embedded(self) -> bool:
        return self.url == "embedded"


class TwilioSettings(_Section, frozen=True, rename={"from_": "from"}):
    account_sid: str | None = None
    auth_token: Secret | None = None
    from_: str | None = None
    messaging_service_sid: str | None = None
    api_base_url: str | None = None
    #: Seconds to wait for Twilio's answer; past it a send is ambiguous (``unknown``).
    timeout_seconds: Positive = 10.0
    #: Seconds an ``unknown`` row with nothing at Twilio waits before it is sent again (RELIABILITY.md).
    reconcile_quarantine_seconds: Positive = 900.0

    @property
    def has_credentials(self) -> bool:
        return bool(self.account_sid and self.auth_token and (self.from_ or self.messaging_service_sid))


class ApiSettings(_Section, frozen=True):
    keys: tuple[Secret, ...] = ()


class PerRecipientLimit(_Section, frozen=True):
    max: AtLeastOne = 10
    window_seconds: AtLeastOne = 3600


class RateLimitSettings(_Section, frozen=True):
    per_second: Positive = 80.0
    per_recipient: PerRecipientLimit = msgspec.field(default_factory=PerRecipientLimit)
    daily_unique_recipients: AtLeastOne | None = None


class RetrySettings(_Section, frozen=True):
    max_retries: NonNegative = 5
    min_backoff_ms: AtLeastOne = 1000
    max_backoff_ms: AtLeastOne = 300_000


class SessionWindowSettings(_Section, frozen=True):
    enforce: bool = True


class OptOutSettings(_Section, frozen=True):
    keywords: tuple[str, ...] = DEFAULT_OPT_OUT


class OptInSettings(_Section, frozen=True):
    keywords: tuple[str, ...] = DEFAULT_OPT_IN


class PathSettings(_Section, frozen=True):
    campaigns: Path = Path("campaigns")
    templates: Path = Path("templates/messages")


class PhoneSettings(_Section, frozen=True):
    default_region: str | None = None


class SchedulerSettings(_Section, frozen=True):
    misfire_grace_seconds: AtLeastOne = 3600


class SendingSettings(_Section, frozen=True):
    """How owed ledger rows go to the workers."""

    #: Ledger rows per ``send_batch`` message (one claim statement, one contact read, sends overlapped on the
    #: worker's event loop); 1 sends each row as a batch of one.
    batch_size: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100


class SimulatorSettings(_Section, frozen=True):
    """The transport used when no Twilio credentials are set: it closes the loop with fake callbacks."""

    #: Share of messages that end ``failed`` / ``undelivered`` (0..1 each, 1 together at most).
    failure_rate: Share = 0.0
    undelivered_rate: Share = 0.0
    #: Delay between simulated status steps, in milliseconds.
    step_delay_ms: NonNegative = 200


Transport = Literal["auto", "twilio", "simulator"]


class Settings(_Section, frozen=True):
    """Everything the hub is configured with. Built by :func:`load_settings`; never mutated."""

    database: DatabaseSettings = msgspec.field(default_factory=DatabaseSettings)
    redis: RedisSettings = msgspec.field(default_factory=RedisSettings)
    twilio: TwilioSettings = msgspec.field(default_factory=TwilioSettings)
    transport: Transport = "auto"
    public_url: str = "http://127.0.0.1:8000"
    api: ApiSettings = msgspec.field(default_factory=ApiSettings)
    rate_limits: RateLimitSettings = msgspec.field(default_factory=RateLimitSettings)
    retries: RetrySettings = msgspec.field(default_factory=RetrySettings)
    session_window: SessionWindowSettings = msgspec.field(default_factory=SessionWindowSettings)
    opt_out: OptOutSettings = msgspec.field(default_factory=OptOutSettings)
    opt_in: OptInSettings = msgspec.field(default_factory=OptInSettings)
    paths: PathSettings = msgspec.field(default_factory=PathSettings)
    timezone: str = "UTC"
    phones: PhoneSettings = msgspec.field(default_factory=PhoneSettings)
    scheduler: SchedulerSettings = msgspec.field(default_factory=SchedulerSettings)
    sending: SendingSettings = msgspec.field(default_factory=SendingSettings)
    simulator: SimulatorSettings = msgspec.field(default_factory=SimulatorSettings)
    #: The folder relative paths resolve against (the config file's folder). Not read from YAML.
    root: Path = Path(".")

    @property
    def effective_transport(self) -> Literal["twilio", "simulator"]:
        """``auto`` means Twilio when credentials are set, else the simulator."""
        if self.transport == "auto":
            return "twilio" if self.twilio.has_credentials else "simulator"
        return self.transport

    @property
    def campaigns_dir(self) -> Path:
        return self.paths.campaigns

    @property
    def templates_dir(self) -> Path:
        return self.paths.templates


# Environment variable -> path of the key it overrides.
ENV_OVERRIDES: dict[str, tuple[str, ...]] = {
    "DATABASE_URL": ("database", "url"),
    "REDIS_URL": ("redis", "url"),
    "TWILIO_ACCOUNT_SID": ("twilio", "account_sid"),
    "TWILIO_AUTH_TOKEN": ("twilio", "auth_token"),
    "TWILIO_WHATSAPP_FROM": ("twilio", "from"),
    "TWILIO_MESSAGING_SERVICE_SID": ("twilio", "messaging_service_sid"),
    "TWILIO_API_BASE_URL": ("twilio", "api_base_url"),
    "HUB_TRANSPORT": ("transport",),
    "HUB_PUBLIC_URL": ("public_url",),
    "HUB_API_KEYS": ("api", "keys"),
    "HUB_RATE_PER_SECOND": ("rate_limits", "per_second"),
    "HUB_TIMEZONE": ("timezone",),
    "HUB_SEND_BATCH_SIZE": ("sending", "batch_size"),
}


def _dec_hook(type_: type, obj: Any) -> Any:
    if type_ is Secret:
        if not isinstance(obj, str):
            raise ValueError("Expected `str`")
        return Secret(obj)
    if type_ is Path:
        if not isinstance(obj, str):
            raise ValueError("Expected a path (`str`)")
        return Path(obj)
    raise NotImplementedError


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    """Write the environment's overrides into ``data``; returns which key each variable set, to blame it."""
    sources: dict[tuple[str, ...], str] = {}
    for var, path in ENV_OVERRIDES.items():
        raw = env.get(var)
        if raw is None or raw == "":
            continue
        sources[path] = var
        value: Any = [k.strip() for k in raw.split(",") if k.strip()] if var == "HUB_API_KEYS" else raw
        node = data
        for key in path[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = {}
                node[key] = child
            node = child
        node[path[-1]] = value
    return sources


def _field_problems(value: Any, type_: Any, path: list[PathPart]) -> list[tuple[list[PathPart], str]]:
    """Every problem of ``value`` as ``type_``, section by section, so one bad key does not hide the next."""
    if isinstance(type_, type) and issubclass(type_, _Section) and isinstance(value, dict):
        fields = {field.encode_name: field.type for field in msgspec.structs.fields(type_)}
        problems = [([*path, str(key)], "unknown key") for key in value if key not in fields]
        for key, child in value.items():
            if key in fields:
                problems.extend(_field_problems(child, fields[key], [*path, key]))
        return problems
    try:
        msgspec.convert(value, type_, strict=False, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        message, parts = split_msgspec_error(exc)
        return [([*path, *parts], message)]
    return []


def _consistency_problems(settings: Settings) -> list[tuple[list[PathPart], str]]:
    """Rules across keys, checked once each key is valid on its own."""
    problems: list[tuple[list[PathPart], str]] = []
    try:
        ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append((["timezone"], "expected an IANA time zone such as Europe/Berlin"))
    database = settings.database
    if not database.is_embedded and not database.url.startswith(("postgresql://", "postgres://")):
        problems.append((["database", "url"], "expected postgresql://... or embedded"))
    retries = settings.retries
    if retries.max_backoff_ms < retries.min_backoff_ms:
        problems.append((["retries", "max_backoff_ms"], "expected at least retries.min_backoff_ms"))
    simulator = settings.simulator
    if simulator.failure_rate + simulator.undelivered_rate > 1:
        problems.append((["simulator", "undelivered_rate"], "expected failure_rate + undelivered_rate <= 1"))
    return problems


def _blame(
    parts: list[PathPart], message: str, path: Path, locator: Locator | None, sources: dict[tuple[str, ...], str]
) -> tuple[int, str]:
    """One problem as ``(line, text)``: on the environment variable that set the key, else on the file and line."""
    for key, var in sources.items():
        if tuple(parts[: len(key)]) == key:
            return sys.maxsize, f"{var} (sets {dotted(parts)}): {message}"
    line = locator.line(parts) if locator else None
    where = f"{path}:{line}" if line else str(path)
    return line or 0, f"{where}: {dotted(parts)}: {message}"


def _resolve(root: Path, path: Path) -> Path:
    return path if path.is_absolute() else (root / path)


def config_path(env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Path:
    """The config file in use: ``$HUB_CONFIG``, else ``config.yaml`` in the working directory."""
    env = os.environ if env is None else env
    named = env.get("HUB_CONFIG")
    if named:
        return Path(named)
    return (cwd or Path.cwd()) / "config.yaml"


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Build the settings once, at the edge (CLI, app factory, worker boot).

    Args:
        path: the YAML file; defaults to :func:`config_path`. A missing default file means all defaults;
            a missing file named explicitly (argument or ``HUB_CONFIG``) is an error.
        env: environment to read overrides from (defaults to ``os.environ``).

    Raises:
        ConfigError: invalid YAML, a key written twice, an unknown key, a value of the wrong type or out of
            its range. One line per problem, each naming the file and the key (or the environment variable
            that set it), never a secret's value.
    """
    env = os.environ if env is None else env
    explicit = path is not None or bool(env.get("HUB_CONFIG"))
    path = path or config_path(env)
    data: Any = {}
    locator = None
    if path.exists() or explicit:
        try:
            data, locator = load_yaml(path, display=str(path))
        except Problem as exc:
            raise ConfigError(str(exc)) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level, found {type(data).__name__}")
    if "root" in data:
        raise ConfigError(f"{path}: root: unknown key")
    lines = [
        (line, f"{path}:{line}: {dotted(field)}: written twice (first on line {first}); YAML would keep the last")
        for field, line, first in (locator.duplicates() if locator is not None else [])
    ]
    data = dict(data)
    sources = _apply_env(data, env)
    problems = _field_problems(data, Settings, [])
    if not problems and not lines:
        settings = msgspec.convert(data, Settings, strict=False, dec_hook=_dec_hook)
        problems = _consistency_problems(settings)
    lines += [_blame(parts, message, path, locator, sources) for parts, message in problems]
    if lines:
        # Never echo a value: msgspec messages name types and bounds, not values, so they are safe.
        raise ConfigError("\n".join(text for _, text in sorted(lines, key=lambda item: item[0])))
    root = path.resolve().parent
    return msgspec.structs.replace(
        settings,
        root=root,
        paths=PathSettings(
            campaigns=_resolve(root, settings.paths.campaigns),
            templates=_resolve(root, settings.paths.templates),
        ),
    )


__all__ = ["ConfigError", "Secret", "Settings", "config_path", "load_settings", "redact_url"]
