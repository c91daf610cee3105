"""Rows are checked against their table's constraints before any write."""

from __future__ import annotations

from typing import TypeVar

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from kcost.history.models import HistoryTable

Row = TypeVar("Row", bound=HistoryTable)


def validated(row: Row) -> Row:
    """``row`` checked (and coerced, e.g. a phase string to its enum) as its table requires.

    Table classes skip validation when constructed, so every write goes through here.
    Raises ``ValueError`` naming the table and the field, e.g.
    ``daily_costs.cpu_usd: Input should be greater than or equal to 0 (got -1.0)``.
    """
    model = type(row)
    try:
        # Only the attributes that were set: an unset one must read "Field required", not None.
        values = {name: value for name, value in vars(row).items() if name in model.model_fields}
        return model.model_validate(values)
    except ValidationError as error:
        table = str(model.__tablename__)
        problems = "; ".join(_describe(table, detail) for detail in error.errors())
        raise ValueError(problems) from None


def _describe(table: str, detail: ErrorDetails) -> str:
    field = ".".join(str(part) for part in detail["loc"])
    where = f"{table}.{field}" if field else table
    message = detail["msg"].removeprefix("Value error, ")
    # A model-level check already quotes the values it compared; a missing field has no value.
    got = f" (got {detail['input']!r})" if field and detail["type"] != "missing" else ""
    return f"{where}: {message}{got}"
