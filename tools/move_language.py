"""The import move of issue 14: the published language leaves the kit.

``kit.events``, ``kit.directory`` and ``kit.actor`` became ``language.events``,
``language.directory`` and ``language.actor`` (``services/language``); the kit no longer knows
them. This script rewrites every user in the tree, mechanically, and can be run again (a second
run changes nothing):

- imports and mentions of ``kit.events`` / ``kit.directory`` / ``kit.actor`` (``from kit import
  events as catalogue`` included) name ``language`` instead;
- ``from kit.metrics import Metrics`` (and ``outcome_of``, ``entrypoint_kind``) come from
  ``kit.operations``, where the provider moved when ``kit.metrics`` stopped importing the rest
  of the kit;
- ``SystemRpc("x", ...)`` names its actor: ``actor=SYSTEM.to_dict()`` (the kit knows no roles);
- ``run_env(metadata, directory=True)`` / ``drift(..., directory=True)`` become
  ``include=[directory_metadata]`` and a models module's ``DIRECTORY = True`` becomes
  ``INCLUDE_METADATA = (directory_metadata,)``, with ``directory_metadata`` imported from
  ``language.directory``;
- the kit's transitional forwarding modules and lines (marked ``transitional (issue 14)``) are
  deleted, and lines marked ``# after issue 14: <code>`` become that code;
- ruff sorts the imports of every file it changed and formats them.

Run from the repository root: ``.venv/bin/python tools/move_language.py``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREES = ("services", "gateway", "tests", "deploy", "tools")
MOVED = ("events", "directory", "actor")
FORWARDERS = [ROOT / "services" / "kit" / "kit" / f"{name}.py" for name in MOVED]
SKIP_PARTS = {".venv", "node_modules", "__pycache__", "dist", ".git"}
#: the kit defines ``SystemRpc``: its own mentions name no actor to add
KIT = ROOT / "services" / "kit"

MARK = "transitional (issue 14)"
BLOCK = re.compile(
    r"^[ \t]*# --- transitional \(issue 14\).*?^[ \t]*# --- end transitional \(issue 14\)[^\n]*\n",
    re.M | re.S,
)
AFTER = re.compile(r"^([ \t]*)# after issue 14: (.*)$", re.M)
MENTION = re.compile(r"\bkit\.(events|directory|actor)\b")
FROM_KIT = re.compile(r"^([ \t]*)from kit import ([^()\n]+?)[ \t]*$", re.M)
FROM_KIT_PARENTHESIZED = re.compile(r"^([ \t]*)from kit import \(([^()]*)\)[ \t]*$", re.M)
FROM_METRICS = re.compile(r"^([ \t]*)from kit\.metrics import ([^()\n]+?)[ \t]*$", re.M)
TO_OPERATIONS = {"Metrics", "outcome_of", "entrypoint_kind"}
SYSTEM_RPC = re.compile(r"(?<!class )\bSystemRpc\(")
DIRECTORY_FLAG = re.compile(r"\b(run_env|drift)\((.*?)directory=True\)")
DIRECTORY_CONSTANT = re.compile(r"^DIRECTORY = True[ \t]*$", re.M)
DIRECTORY_IMPORT = "from language.directory import metadata as directory_metadata"
SYSTEM_IMPORT = "from language.actor import SYSTEM"


def files() -> list[Path]:
    found = []
    for tree in TREES:
        for path in sorted((ROOT / tree).rglob("*")):
            if not path.is_file() or SKIP_PARTS & set(path.relative_to(ROOT).parts):
                continue
            if path.suffix in (".py", ".md") and path != Path(__file__).resolve():
                found.append(path)
    return found


def split_names(names: str) -> list[str]:
    return [name.strip() for name in names.split(",") if name.strip()]


def moved_from_kit(match: re.Match[str]) -> str:
    """``from kit import events as catalogue, paging`` -> two statements, one per package (ruff
    wraps them again if they are long)."""
    indent, names = match.group(1), split_names(" ".join(match.group(2).split()))
    if "#" in match.group(2):
        return match.group(0)  # a commented import: left for a person
    staying = [name for name in names if name.split(" as ")[0].strip() not in MOVED]
    leaving = [name for name in names if name.split(" as ")[0].strip() in MOVED]
    if not leaving:
        return match.group(0)
    lines = []
    if staying:
        lines.append(f"{indent}from kit import {', '.join(staying)}")
    lines.append(f"{indent}from language import {', '.join(leaving)}")
    return "\n".join(lines)


def moved_from_metrics(match: re.Match[str]) -> str:
    indent, names = match.group(1), split_names(match.group(2))
    if "#" in match.group(2):
        return match.group(0)
    staying = [name for name in names if name.split(" as ")[0].strip() not in TO_OPERATIONS]
    leaving = [name for name in names if name.split(" as ")[0].strip() in TO_OPERATIONS]
    if not leaving:
        return match.group(0)
    lines = [f"{indent}from kit.metrics import {', '.join(staying)}"] if staying else []
    lines.append(f"{indent}from kit.operations import {', '.join(leaving)}")
    return "\n".join(lines)


def call_end(text: str, start: int) -> int:
    """The index just past the parenthesis that closes the one opened at ``start - 1``."""
    depth = 1
    index = start
    while depth and index < len(text):
        if text[index] == "(":
            depth += 1
        elif text[index] == ")":
            depth -= 1
        index += 1
    return index


def name_the_actor(text: str) -> tuple[str, bool]:
    """``SystemRpc("projects", timeout=T)`` -> ``SystemRpc("projects", actor=SYSTEM.to_dict(),
    timeout=T)``; calls that name their actor are left alone."""
    changed = False
    position = 0
    while (match := SYSTEM_RPC.search(text, position)) is not None:
        end = call_end(text, match.end())
        arguments = text[match.end() : end - 1]
        position = end
        if "actor=" in arguments or not arguments.strip():
            continue
        first = re.match(r"\s*(\"[^\"]*\"|'[^']*'|[A-Za-z_][\w.]*)", arguments)
        if first is None:
            continue
        cut = match.end() + first.end()
        text = text[:cut] + ", actor=SYSTEM.to_dict()" + text[cut:]
        position = cut
        changed = True
    return text, changed


def add_import(text: str, statement: str) -> str:
    """Add a top-level import (ruff sorts it afterwards) unless it is there already."""
    if re.search(rf"^{re.escape(statement)}$", text, re.M):
        return text
    anchor = re.search(r"^(from|import) (kit|language)\b.*$", text, re.M)
    if anchor is None:
        anchor = re.search(r"^from __future__ import .*$", text, re.M)
    if anchor is None:
        return f"{statement}\n{text}"
    return text[: anchor.start()] + statement + "\n" + text[anchor.start() :]


def imports_system(text: str) -> bool:
    return re.search(r"^from language\.actor import [^\n]*\bSYSTEM\b", text, re.M) is not None


def rewrite(path: Path, text: str) -> str:
    text = BLOCK.sub("", text)
    text = "".join(line for line in text.splitlines(keepends=True) if MARK not in line)
    text = AFTER.sub(r"\1\2", text)
    if path.suffix == ".md":
        return MENTION.sub(r"language.\1", text)
    text = FROM_KIT.sub(moved_from_kit, text)
    text = FROM_KIT_PARENTHESIZED.sub(moved_from_kit, text)
    text = MENTION.sub(r"language.\1", text)
    text = FROM_METRICS.sub(moved_from_metrics, text)
    text, named = name_the_actor(text) if KIT not in path.parents else (text, False)
    if named and not imports_system(text):
        text = add_import(text, SYSTEM_IMPORT)
    flagged = DIRECTORY_FLAG.sub(r"\1(\2include=[directory_metadata])", text)
    flagged = DIRECTORY_CONSTANT.sub("INCLUDE_METADATA = (directory_metadata,)", flagged)
    if flagged != text:
        text = add_import(flagged, DIRECTORY_IMPORT)
    return text


def main() -> int:
    changed: list[Path] = []
    for forwarder in FORWARDERS:
        if forwarder.exists():
            forwarder.unlink()
            print(f"deleted {forwarder.relative_to(ROOT)}")
    for path in files():
        before = path.read_text()
        after = rewrite(path, before)
        if after != before:
            path.write_text(after)
            changed.append(path)
            print(f"rewrote {path.relative_to(ROOT)}")
    python = [str(path) for path in changed if path.suffix == ".py"]
    if python:
        ruff = [sys.executable, "-m", "ruff"]
        # our own interpreter and ruff, on files this script just wrote
        subprocess.run([*ruff, "check", "--fix", "--select", "I", "--quiet", *python], check=False)  # noqa: S603
        subprocess.run([*ruff, "format", "--quiet", *python], check=False)  # noqa: S603
    leftovers = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in files()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if (MENTION.search(line) and path.suffix == ".py")
        or "directory=True" in line
        or re.search(r"^DIRECTORY = True", line)
    ]
    for leftover in leftovers:
        print(f"left for a person: {leftover}", file=sys.stderr)
    return 1 if leftovers else 0


if __name__ == "__main__":
    sys.exit(main())
