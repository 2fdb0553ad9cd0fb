"""The authorization matrix: ``tests/authorization_matrix.md``, one row per route of the API
document (``METHOD /path``), one column per role; a cell is ``allow`` or ``deny``, and a public
route (no token needed) has ``public`` in every cell.

The unit test compares it with the routes the gateway declares; the end-to-end test asks the
running platform every cell.
"""

from __future__ import annotations

from pathlib import Path

from language.actor import ROLES

TABLE = Path(__file__).resolve().parents[1] / "authorization_matrix.md"
CELLS = ("allow", "deny", "public")

Matrix = dict[tuple[str, str], dict[str, str]]


def load(path: Path = TABLE) -> Matrix:
    """The table's rows: ``(METHOD, /path)`` -> {role: cell}."""
    matrix: Matrix = {}
    header: list[str] | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.startswith("|"):
            continue
        cells = [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
            if tuple(header[1:]) != ROLES:
                raise ValueError(f"{path.name}:{number}: the columns must be route, {ROLES}")
            continue
        if set(cells[0]) <= {"-", ":", " "}:
            continue  # the separator line
        method, _, route_path = cells[0].partition(" ")
        if len(cells) != len(header) or not route_path or any(c not in CELLS for c in cells[1:]):
            raise ValueError(
                f"{path.name}:{number}: a row is `METHOD /path` and one of {CELLS} per role: "
                f"{line!r}"
            )
        if ("public" in cells[1:]) and set(cells[1:]) != {"public"}:
            raise ValueError(f"{path.name}:{number}: a public route is public in every column")
        key = (method.upper(), route_path.strip())
        if key in matrix:
            raise ValueError(f"{path.name}:{number}: {method} {route_path} is listed twice")
        matrix[key] = dict(zip(ROLES, cells[1:], strict=True))
    if header is None:
        raise ValueError(f"{path.name}: no table")
    return matrix


def row(method: str, path: str, roles: tuple[str, ...] | None) -> str:
    """The table's line for a route whose ``@api(roles=...)`` is ``roles``."""
    if roles is None:
        cells = ["public"] * len(ROLES)
    else:
        cells = ["allow" if role in roles else "deny" for role in ROLES]
    return "| `" + f"{method} {path}" + "` | " + " | ".join(cells) + " |"


def header() -> str:
    return "| route | " + " | ".join(ROLES) + " |\n|---|" + "|".join(":-:" for _ in ROLES) + "|"
