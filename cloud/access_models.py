"""Request and response models of API keys and gateway enrollment (secrets appear once)."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cloud import auth
from cloud.credentials import ApiKey, Enrollment
from cloud.settings import DAY
from shared.reading import SENSOR_ID

GatewayId = Annotated[str, Field(pattern=f"^{SENSOR_ID.pattern}$", examples=["gw-01"])]
KeyRole = Literal["viewer", "operator", "admin"]
MAX_TTL_S = 30 * DAY


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KeyCreate(_Model):
    """A new API key: who holds it, its role, and an operator's departments."""

    name: Annotated[str, Field(min_length=1, max_length=100, examples=["ana"])]
    role: KeyRole
    departments: Annotated[
        tuple[Annotated[str, Field(min_length=1, max_length=200)], ...],
        Field(max_length=50, examples=[["dept-environment"]]),
    ] = ()

    @field_validator("departments")
    @classmethod
    def _urns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # Local ids (dept-mobility) and URNs name the same department: store the URN.
        return tuple(dict.fromkeys(auth.department_id(d) for d in value))

    @model_validator(mode="after")
    def _bound(self) -> Self:
        if self.role == "operator" and not self.departments:
            raise ValueError("an operator key needs at least one department")
        if self.role != "operator" and self.departments:
            raise ValueError(f"a {self.role} key takes no departments (only operators do)")
        return self


class KeyPublic(_Model):
    """An API key as listed: never its secret."""

    id: str
    name: str
    role: KeyRole
    departments: tuple[str, ...]
    created_at: float
    revoked_at: float | None

    @classmethod
    def of(cls, key: ApiKey) -> Self:
        """The public view of a stored key."""
        return cls(
            id=key.id,
            name=key.name,
            role=key.role.value,  # stored keys have a key role
            departments=key.departments,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
        )


class KeyCreated(KeyPublic):
    """A key just created, with its secret: shown this once, only its digest is kept."""

    key: str


class KeyPage(_Model):
    """One page of keys and the number of keys over all pages."""

    items: list[KeyPublic]
    total: int


class GatewayRegister(_Model):
    """Register a gateway: it gets a one-time enrollment code (default lifetime from settings)."""

    gateway: GatewayId
    expires_in_s: Annotated[float | None, Field(gt=0, le=MAX_TTL_S)] = None


class EnrollmentCode(_Model):
    """The code a technician types into the gateway: shown this once, one use, until it expires."""

    gateway: str
    code: str
    expires_at: float

    @classmethod
    def of(cls, enrollment: Enrollment, code: str) -> Self:
        """The code of a new enrollment."""
        return cls(gateway=enrollment.gateway, code=code, expires_at=enrollment.expires_at)


class EnrollCreate(_Model):
    """A gateway's exchange of its enrollment code for its token."""

    gateway: GatewayId
    code: Annotated[str, Field(min_length=1, max_length=64, examples=["7K2M-QX9D-R4TB-HW3N"])]


class EnrollResult(_Model):
    """The gateway's bearer token for ingest: shown this once, only its digest is kept."""

    gateway: str
    token: str


class GatewayRevoked(_Model):
    """What revoking a gateway did: its tokens revoked (and any unused code voided)."""

    gateway: str
    tokens_revoked: int
