from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    ts: datetime
    actor_id: int | None
    actor: str
    channel: str
    action: str
    object_type: str | None
    object_id: str | None
    ip: str | None
    outcome: str
    details: dict[str, Any]
    prev_hash: str
    hash: str

    @field_validator("details", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


class AuditPage(BaseModel):
    events: list[AuditEventRead]
    next_before: int | None


class VerifyRead(BaseModel):
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    broken_seq: int | None
    reason: str | None
