"""Form input for the HTML pages: validated by the same Pydantic schemas as the API."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from chainsleuth.core.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], **fields: Any) -> M:
    """Build ``model`` from form fields; the first problem becomes one clear message."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "form"
        raise InvalidInput(f"{field.replace('_', ' ')}: {err['msg']}") from exc
