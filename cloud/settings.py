"""The aggregator's one settings model, built once by the CLI (or a test) and passed down."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from cloud.kpis import EAQI_LEVELS, Bathing
from shared.reading import SENSOR_ID
from shared.wire.uplink import MAX_BODY

MIN_TOKEN_LENGTH = 16
# RFC 6750 b64token, long enough not to be guessed.
_TOKEN = re.compile(rf"[A-Za-z0-9._~+/-]{{{MIN_TOKEN_LENGTH},}}=*")
Seconds = Annotated[float, Field(gt=0)]
DAY = 86_400.0


class AuthMode(enum.StrEnum):
    """Whether requests must authenticate (see cloud/authenticator.py)."""

    # Required once any credential exists (settings or database), open until then: a fresh
    # install can be tried at once, and the first key created closes it at the next start.
    AUTO = "auto"
    REQUIRED = "required"
    # Dev mode: a request without credentials may do anything; one with credentials is checked.
    OFF = "off"


@dataclass(frozen=True, slots=True)
class PostgresUrl:
    """A PostgreSQL connection URL, ``postgresql://user[:password]@host[:port]/database``."""

    url: str = field(repr=False)  # may hold a password: repr and str leave it out

    def __str__(self) -> str:
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))


_POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_SQLITE_SCHEME = "sqlite:///"


def _database_url(value: Any) -> Any:
    """A path or ``sqlite:///path`` names a SQLite file; ``postgresql://...`` a server."""
    if not isinstance(value, str):
        return value
    if value.startswith(_POSTGRES_SCHEMES):
        if not urlsplit(value).path.strip("/"):
            raise ValueError(f"{PostgresUrl(value)} names no database: add /DBNAME")
        return PostgresUrl(value)
    if value.startswith(_SQLITE_SCHEME):
        return Path(value.removeprefix(_SQLITE_SCHEME))  # sqlite:////abs for an absolute path
    if "://" in value:
        raise ValueError(
            f"unknown database URL {value.split('://')[0]}://: use a file path, "
            "sqlite:///PATH or postgresql://USER@HOST:PORT/DBNAME"
        )
    return Path(value)


# SQLite (the embedded default) for a path, PostgreSQL (several processes) for a URL.
Database = Annotated[Path | PostgresUrl, BeforeValidator(_database_url)]


# The levels a KPI rule may name, worst last.
KPI_LEVELS: dict[str, tuple[str, ...]] = {
    "air_quality": EAQI_LEVELS,
    "bathing_water": tuple(Bathing),
}


class KpiRule(BaseModel):
    """A cloud rule: ``kpi`` at ``at_least`` or worse opens an incident (docs/api.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # air_quality: each district's European AQI; bathing_water: each bathing site's status.
    kpi: Literal["air_quality", "bathing_water"]
    at_least: str
    severity: Literal["info", "warning", "critical"] = "warning"
    # The department URN its incidents go to; None: the entity's own (as for edge alerts).
    department: str | None = None

    @model_validator(mode="after")
    def _level(self) -> Self:
        levels = KPI_LEVELS[self.kpi]
        if self.at_least not in levels:
            raise ValueError(
                f"at_least: {self.at_least!r} is not a level of {self.kpi} ({', '.join(levels)})"
            )
        return self


DEFAULT_KPI_RULES = (
    KpiRule(
        kpi="air_quality", at_least="poor", department="urn:ngsi-ld:Department:dept-environment"
    ),
    KpiRule(kpi="bathing_water", at_least="red", severity="critical"),
)


class CloudSettings(BaseSettings):
    """Everything the aggregator process needs, validated before it starts."""

    model_config = SettingsConfigDict(env_prefix="CITYTWIN_CLOUD_", extra="forbid", frozen=True)

    database: Database = Path("citytwin-cloud.db")
    host: str = "127.0.0.1"
    # 0 lets the operating system pick a free port (tests use it).
    port: Annotated[int, Field(ge=0, le=65535)] = 8000
    auth: AuthMode = AuthMode.AUTO
    # gateway id -> a configured bearer token, good for ingest only (besides enrolled ones).
    gateway_tokens: dict[str, str] = Field(default_factory=dict)
    # A configured admin key, to bootstrap (create keys, register gateways) without the CLI.
    admin_key: SecretStr | None = None
    # How long an enrollment code stays good unless its registration says otherwise.
    enrollment_ttl_s: Annotated[float, Field(gt=0, le=30 * DAY)] = DAY
    stale_after_s: Seconds = 90.0
    offline_after_s: Seconds = 300.0
    max_body_bytes: Annotated[int, Field(ge=1024)] = MAX_BODY
    # A city file (``citytwin sim city``) seeded into the twin at every start-up; None: none.
    city: Path | None = None
    # Open data (/open/v1, docs/api.md): requests per minute per client IP, how many at once,
    # and how many clients' buckets are kept (the longest unseen is dropped beyond that).
    open_requests_per_minute: Annotated[float, Field(gt=0)] = 60.0
    open_burst: Annotated[int, Field(ge=1)] = 60
    open_clients: Annotated[int, Field(ge=1)] = 10_000
    # People counts (docs/kpis.md): epsilon of each release, the fewest counters a published
    # sum may have (3 at least: never one sensor's figure), and how recent a count must be.
    open_epsilon: Annotated[float, Field(gt=0, le=10)] = 1.0
    open_min_sensors: Annotated[int, Field(ge=3)] = 3
    open_people_window_s: Seconds = 900.0
    # Cloud rules (cloud/rules.py): how often they run, when a sensor that reported counts
    # as silent, how old a value a KPI rule may use, and the KPI rules (one per KPI).
    rules_interval_s: Seconds = 15.0
    silent_after_s: Seconds = 900.0
    kpi_max_age_s: Seconds = 3600.0
    kpi_rules: tuple[KpiRule, ...] = DEFAULT_KPI_RULES

    @field_validator("database")
    @classmethod
    def _database(cls, value: Path | PostgresUrl) -> Path | PostgresUrl:
        if isinstance(value, PostgresUrl):
            return value
        if str(value) in ("", ":memory:"):
            raise ValueError("needs a file path: readers and the writer use separate connections")
        if value.is_dir():
            raise ValueError(f"{value} is a directory, not a database file")
        if not value.parent.is_dir():
            raise ValueError(f"directory {value.parent} does not exist")
        return value

    @field_validator("city")
    @classmethod
    def _city(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value} is not a file")
        return value

    @field_validator("gateway_tokens")
    @classmethod
    def _gateway_tokens(cls, value: dict[str, str]) -> dict[str, str]:
        for gateway, token in value.items():
            if not SENSOR_ID.fullmatch(gateway):
                raise ValueError(f"{gateway!r} is not a gateway id (1-64 of A-Z a-z 0-9 . _ -)")
            if not _TOKEN.fullmatch(token):
                raise ValueError(
                    f"token of {gateway!r} must be {MIN_TOKEN_LENGTH}+ characters "
                    "of A-Z a-z 0-9 . _ ~ + / -"
                )
        if len(set(value.values())) != len(value):
            raise ValueError("two gateways share a token: each gateway needs its own")
        return value

    @field_validator("admin_key")
    @classmethod
    def _admin_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _TOKEN.fullmatch(value.get_secret_value()):
            raise ValueError(f"must be {MIN_TOKEN_LENGTH}+ characters of A-Z a-z 0-9 . _ ~ + / -")
        return value

    @field_validator("kpi_rules")
    @classmethod
    def _kpi_rules(cls, value: tuple[KpiRule, ...]) -> tuple[KpiRule, ...]:
        kpis = [rule.kpi for rule in value]
        if len(set(kpis)) != len(kpis):
            # One cause per KPI: two rules would fight over one incident.
            raise ValueError("two rules on one KPI: give each KPI one rule")
        return value

    @model_validator(mode="after")
    def _offline_after_stale(self) -> Self:
        if self.offline_after_s <= self.stale_after_s:
            raise ValueError(
                f"offline_after_s ({self.offline_after_s}) must be greater than "
                f"stale_after_s ({self.stale_after_s})"
            )
        return self

    @property
    def configured_credentials(self) -> bool:
        """Whether the settings themselves hold a credential (a gateway token or an admin key)."""
        return bool(self.gateway_tokens) or self.admin_key is not None
