"""The simulator's one settings model: command-line options over CITYTWIN_SIM_* variables."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from firmware_sim.anomalies import Rates
from firmware_sim.city.layout import DISTRICTS
from firmware_sim.errors import SimConfigError
from firmware_sim.firmware import FaultRates, parse_rates
from firmware_sim.fleet import check_fleet
from firmware_sim.transports.mqtt import parse_broker_url

Seconds = Annotated[float, Field(gt=0)]


class SimSettings(BaseSettings):
    """Everything ``citytwin sim`` needs, validated before anything connects."""

    model_config = SettingsConfigDict(env_prefix="CITYTWIN_SIM_", extra="forbid", frozen=True)

    # One URL, or one per gateway separated by commas (gateway k publishes to the k-th).
    broker: str = "mqtt://127.0.0.1:1883"
    sensors: Annotated[int, Field(ge=1, le=100_000)] = 10
    gateways: Annotated[int, Field(ge=1, le=DISTRICTS)] | None = None  # None: every gateway
    seed: Annotated[int, Field(ge=0)] = 0
    prefix: str = "sim"
    interval: Seconds = 1.0
    speed: Seconds = 1.0
    duration: Seconds | None = None
    qos: Literal[0, 1] = 0
    anomaly_rate: Annotated[float, Field(ge=0)] = Rates().faults_per_sensor_day
    drill: Seconds | None = None  # wall seconds between two drills (drill.py); None: no drills
    fault_rate: str = ""  # NAME=RATE,... (firmware.FAULTS)
    rate: Annotated[float, Field(ge=0)] | None = None  # flood mode, readings/s; 0: no limit
    total: Annotated[int, Field(ge=1)] | None = None  # flood mode: stop after this many
    batch: Annotated[int, Field(ge=1, le=1000)] = 1
    serial: str | None = None  # a port path, or "pty" for a new pty pair
    labels: str | None = None  # file for the ground truth of the anomalies a live run sends

    @field_validator("fault_rate")
    @classmethod
    def _fault_rates(cls, value: str) -> str:
        try:
            parse_rates(value)
        except SimConfigError as exc:
            raise ValueError(str(exc).removeprefix("fault_rate: ")) from exc
        return value

    @field_validator("broker")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        try:
            for url in value.split(","):
                parse_broker_url(url)
        except SimConfigError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @model_validator(mode="after")
    def _possible_fleet(self) -> SimSettings:
        try:
            check_fleet(self.seed, self.sensors, self.prefix)
        except SimConfigError as exc:
            raise ValueError(str(exc)) from exc
        return self

    @model_validator(mode="after")
    def _modes_that_fit(self) -> SimSettings:
        if self.rate is None and (self.total is not None or self.batch != 1):
            raise ValueError("total and batch need flood mode (--rate)")
        if self.rate is not None and self.serial is not None:
            raise ValueError("flood mode (--rate) is for MQTT only, not with --serial")
        if self.serial is None and (
            "bad_checksum" in self.fault_rate or "noise" in self.fault_rate
        ):
            raise ValueError("fault_rate: bad_checksum and noise exist on serial lines only")
        if self.rate is not None and self.labels is not None:
            raise ValueError("labels: flood mode (--rate) injects no anomalies to label")
        if self.rate is not None and self.drill is not None:
            raise ValueError("drill: flood mode (--rate) injects no anomalies")
        return self

    @model_validator(mode="after")
    def _a_broker_per_gateway(self) -> SimSettings:
        count = len(self.broker.split(","))
        if count == 1:
            return self
        if self.gateways != count:
            raise ValueError(f"broker: {count} brokers need --gateways {count}, one per gateway")
        if self.rate is not None or self.serial is not None:
            raise ValueError("broker: one broker per gateway is for live MQTT runs only")
        return self

    @property
    def fault_rates(self) -> FaultRates:
        """The faulty-firmware rates."""
        return parse_rates(self.fault_rate)

    @property
    def broker_address(self) -> tuple[str, int]:
        """Host and port of the (first) broker."""
        return self.broker_addresses[0]

    @property
    def broker_addresses(self) -> tuple[tuple[str, int], ...]:
        """Host and port of every broker, in gateway order."""
        return tuple(parse_broker_url(url) for url in self.broker.split(","))


def load(**overrides: Any) -> SimSettings:
    """Settings from ``overrides`` (None means unset) over CITYTWIN_SIM_* variables."""
    given = {name: value for name, value in overrides.items() if value is not None}
    try:
        return SimSettings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        if not where:  # a check across fields names its field in the message
            raise SimConfigError(message) from exc
        raise SimConfigError(f"{where}: {message}", field=where) from exc
