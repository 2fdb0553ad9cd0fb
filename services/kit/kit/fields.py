"""marshmallow fields every service's schemas use."""

from __future__ import annotations

import uuid
from typing import Any

from marshmallow import fields


class Text(fields.String):
    """A string with surrounding whitespace removed; a required one may not be blank."""

    default_error_messages = {"blank": "Must not be blank."}  # noqa: RUF012 - marshmallow API

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not text and self.required:
            raise self.make_error("blank")
        return text


class Id(fields.String):
    """A UUID given and returned as its canonical lowercase string."""

    default_error_messages = {"invalid_uuid": "Not a valid UUID."}  # noqa: RUF012

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return str(uuid.UUID(text))
        except ValueError:
            raise self.make_error("invalid_uuid") from None


class Money(fields.Integer):
    """An amount in fen (分): a non-negative integer, never a float or a string."""

    def __init__(self, **kwargs: Any) -> None:
        from marshmallow import validate

        kwargs.setdefault("validate", validate.Range(min=0))
        super().__init__(strict=True, **kwargs)
