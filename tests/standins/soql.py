"""Just enough SOQL for lookups: ``SELECT f, … FROM Obj [WHERE a = 'x' AND b IN ('y', 'z')]
[ORDER BY …] [LIMIT n]``. Anything else answers ``MALFORMED_QUERY``, as an org would refuse
what it cannot parse; unknown fields answer ``INVALID_FIELD``.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["SoqlError", "run_query"]

_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<obj>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+ORDER\s+BY\s+(?P<order>[\w\s,]+?))?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_VALUE = r"'(?:[^'\\]|\\.)*'|\((?:\s*'(?:[^'\\]|\\.)*'\s*,?)+\)|true|false|null|-?\d+(?:\.\d+)?"
_CONDITION = re.compile(rf"\s*(\w+)\s*(=|!=|IN)\s*({_VALUE})\s*", re.IGNORECASE)


class SoqlError(ValueError):
    """A query the stand-in (and probably Salesforce) refuses; ``code`` is the errorCode."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _literal(text: str) -> Any:
    lowered = text.lower()
    if text.startswith("("):
        return [_literal(v) for v in re.findall(r"'(?:[^'\\]|\\.)*'", text)]
    if text.startswith("'"):
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    return float(text) if "." in text else int(text)


def _conditions(where: str) -> list[tuple[str, str, Any]]:
    out, position = [], 0
    while True:
        match = _CONDITION.match(where, position)
        if match is None:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token near: {where[position:]!r}")
        out.append((match[1], match[2].upper(), _literal(match[3])))
        position = match.end()
        if position >= len(where):
            return out
        joiner = re.compile(r"AND\s+", re.IGNORECASE).match(where, position)
        if joiner is None:
            raise SoqlError("MALFORMED_QUERY", f"only AND is supported near: {where[position:]!r}")
        position = joiner.end()


def run_query(
    soql: str,
    records: dict[str, dict[str, dict[str, Any]]],
    schemas: dict[str, Any],
    api: str,
) -> dict[str, Any]:
    """Run ``soql`` over ``records`` (sObject → id → record); field names checked in ``schemas``."""
    match = _QUERY.match(soql)
    if match is None:
        raise SoqlError("MALFORMED_QUERY", f"cannot parse query: {soql!r}")
    obj = match["obj"]
    known = {
        name.lower(): name
        for name in schemas.get(f"{obj}SObject", {}).get("properties", {"Id": None})
    } | {"id": "Id", "developername": "DeveloperName", "name": "Name", "type": "Type"}

    def field(name: str) -> str:
        if name.lower() not in known:
            raise SoqlError("INVALID_FIELD", f"No such column '{name}' on entity '{obj}'.")
        return known[name.lower()]

    selected = [field(f.strip()) for f in match["fields"].split(",")]
    conditions = (
        [(field(n), op, v) for n, op, v in _conditions(match["where"] or "")]
        if match["where"]
        else []
    )
    rows = []
    for record in records.get(obj, {}).values():
        ok = True
        for name, op, value in conditions:
            actual = record.get(name)
            if op == "=":
                ok = ok and actual == value
            elif op == "!=":
                ok = ok and actual != value
            else:
                ok = ok and actual in value
        if ok:
            url = f"{api}/sobjects/{obj}/{record['Id']}"
            rows.append(
                {"attributes": {"type": obj, "url": url}}
                | {name: record.get(name) for name in selected}
            )
    if match["limit"]:
        rows = rows[: int(match["limit"])]
    return {"totalSize": len(rows), "done": True, "records": rows}
