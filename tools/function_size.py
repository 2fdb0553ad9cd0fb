"""Fails when a function in the given trees is longer than ``--max-lines`` lines.

Ruff measures complexity (C901) and statements (PLR0915) but not length; this counts a
function's lines from its ``def`` (decorators excluded) to its last line, docstring included.
Run by ``make lint`` over ``services/`` and ``gateway/`` (migrations excluded).
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path

EXCLUDED = ("migrations", "node_modules")


def functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def too_long(paths: list[Path], max_lines: int) -> list[str]:
    found = []
    for root in paths:
        for path in sorted(root.rglob("*.py")):
            if any(part in EXCLUDED for part in path.parts):
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in functions(tree):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > max_lines:
                    found.append(f"{path}:{node.lineno}: {node.name} is {length} lines long")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--max-lines", type=int, default=60)
    arguments = parser.parse_args(argv)
    found = too_long(arguments.paths, arguments.max_lines)
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} function(s) longer than {arguments.max_lines} lines", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
