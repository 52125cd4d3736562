"""The agent's one settings model, read once from a TOML file and CITYTWIN_EDGE_* variables."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from edge.errors import ConfigError
from shared.reading import SENSOR_ID

Seconds = Annotated[float, Field(gt=0)]
MIN_QUOTA_BYTES = 1 << 20


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MqttSettings(_Section):
    """The gateway's local broker."""

    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password: str | None = None
    client_id: str | None = None  # default: citytwin-edge-<gateway id>, for a persistent session
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30
    queue_max: Annotated[int, Field(ge=100)] = 10_000
    # The same bound in payload bytes, for fleets that send large batches: 10,000 messages of
    # 64 KiB would be 640 MB on each side of the link, more than a small gateway has.
    queue_max_bytes: Annotated[int, Field(ge=1 << 16)] = 16 << 20
    # How long a reading may wait at the gateway for others to be handled with it. Every
    # hand-over costs the agent about the same whatever its size, so at low rates this is
    # what keeps it cheap; a lower value lowers alert latency and costs CPU.
    batch_wait_ms: Annotated[int, Field(ge=0, le=1000)] = 100

    @field_validator("url")
    @classmethod
    def _mqtt_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
            raise ValueError(f"{value!r} is not mqtt://host[:port]")
        return value

    @property
    def host(self) -> str:
        """Broker host name."""
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        """Broker TCP port."""
        return urlsplit(self.url).port or 1883


class SerialSettings(_Section):
    """One serial port sensors talk to."""

    port: str
    baudrate: Annotated[int, Field(gt=0)] = 115200
    reopen_s: Seconds = 2.0


class CloudSettings(_Section):
    """Where and how the gateway uploads."""

    url: str = "http://127.0.0.1:8000"
    token: str | None = None
    batch_max: Annotated[int, Field(ge=1, le=5000)] = 1000
    batch_interval_s: Seconds = 1.0
    timeout_s: Seconds = 10.0
    backoff_max_s: Seconds = 60.0

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not http(s)://host[:port]")
        return value.rstrip("/")


class WindowSettings(_Section):
    """Tumbling windows and the lateness they tolerate."""

    length_s: Seconds = 60.0
    # A window closes once its sensor has reported this far past the window's end, or once
    # the window has heard nothing for length + lateness of wall-clock time.
    lateness_s: Annotated[float, Field(ge=0)] = 5.0


class ValidationSettings(_Section):
    """Timestamp sanity limits."""

    max_future_s: Seconds = 300.0
    max_age_s: Seconds = 7 * 86400.0


class AnomalySettings(_Section):
    """The anomaly detector that scores every reading."""

    enabled: bool = True
    model: Path | None = None  # default: the model shipped with citytwin
    threads: Annotated[int, Field(ge=1, le=16)] = 1


class StoreSettings(_Section):
    """The local SQLite store."""

    dead_letter_max: Annotated[int, Field(ge=10)] = 10_000
    # Accepted messages kept for inspection and crash recovery (their bytes as they arrived).
    ring_max: Annotated[int, Field(ge=1000)] = 500_000
    commit_interval_s: Annotated[float, Field(gt=0, le=1.0)] = 0.5
    # Bytes of data the SQLite file may hold; past it the store sheds (docs/edge.md). None: no
    # quota but the disk's own size.
    quota_bytes: int | None = None

    @field_validator("quota_bytes")
    @classmethod
    def _quota(cls, value: int | None) -> int | None:
        if value is not None and value < MIN_QUOTA_BYTES:
            raise ValueError(
                f"{value} bytes is too small: at least {MIN_QUOTA_BYTES} (1 MiB), room for the"
                " schema, open windows and alerts, which are never shed"
            )
        return value


class EdgeSettings(BaseSettings):
    """Everything the agent process needs, validated before it starts."""

    model_config = SettingsConfigDict(
        env_prefix="CITYTWIN_EDGE_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    gateway_id: str
    data_dir: Path = Path("citytwin-edge-data")
    heartbeat_s: Seconds = 30.0
    # Prometheus /metrics on this port (0: any free one); None: off. Local by default.
    metrics_port: Annotated[int, Field(ge=0, le=65535)] | None = None
    metrics_host: str = "127.0.0.1"
    mqtt: MqttSettings = MqttSettings()
    serial: list[SerialSettings] = []
    cloud: CloudSettings = CloudSettings()
    windows: WindowSettings = WindowSettings()
    validation: ValidationSettings = ValidationSettings()
    store: StoreSettings = StoreSettings()
    anomaly: AnomalySettings = AnomalySettings()

    @field_validator("gateway_id")
    @classmethod
    def _gateway_id(cls, value: str) -> str:
        if not SENSOR_ID.fullmatch(value):
            raise ValueError(f"{value!r} is not an id (1-64 of A-Z a-z 0-9 . _ -)")
        return value

    @property
    def db_path(self) -> Path:
        """The agent's SQLite file."""
        return self.data_dir / "edge.db"

    @property
    def token_path(self) -> Path:
        """Where ``citytwin edge enroll`` keeps the cloud token (used when [cloud] has none)."""
        return self.data_dir / "cloud-token"


def load(path: Path | None, **overrides: Any) -> EdgeSettings:
    """Settings: ``overrides`` win over the TOML file, which wins over CITYTWIN_EDGE_* variables."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read config {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config {path} is not valid TOML: {exc}") from exc
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        settings = EdgeSettings(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"config {path or '(environment)'}: {where}: {first['msg']}") from exc
    return _with_enrolled_token(settings)


def _with_enrolled_token(settings: EdgeSettings) -> EdgeSettings:
    """``settings`` with the token ``edge enroll`` saved, unless the config names one."""
    if settings.cloud.token is not None:
        return settings
    try:
        token = settings.token_path.read_text().strip()
    except FileNotFoundError:
        return settings
    except OSError as exc:
        raise ConfigError(f"cannot read the cloud token {settings.token_path}: {exc}") from exc
    cloud = settings.cloud.model_copy(update={"token": token or None})
    return settings.model_copy(update={"cloud": cloud})
