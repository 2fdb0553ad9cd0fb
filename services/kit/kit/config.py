"""Service configuration, read exactly as ``nameko run --config`` reads it.

``${ENV_VAR:default}`` anywhere in a value is replaced from the environment (nameko's own YAML
constructor does it, so tests, scripts and ``nameko run`` agree). Use ``!raw_env_var`` for
secrets so a value such as ``yes`` or ``0123`` stays a string.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from nameko.cli.main import setup_yaml_parser

_parser_ready = False


def load_config(path: str | Path, **overrides: Any) -> dict[str, Any]:
    global _parser_ready
    if not _parser_ready:
        setup_yaml_parser()
        _parser_ready = True
    with open(path, encoding="utf-8") as handle:
        config = yaml.safe_load(handle) or {}
    config.update(overrides)
    return config


def require_secret(config: dict[str, Any], key: str, *, dev_default: str) -> str:
    """A secret from config; its development default is refused outside dev mode."""
    value = config.get(key)
    dev_mode = str(config.get("JINGUO_ENV") or "production").lower() in (
        "dev",
        "development",
        "test",
    )
    if not value or value == dev_default:
        if dev_mode:
            return dev_default
        raise RuntimeError(
            f"{key} is unset or left at its development default; set a real secret "
            "(or JINGUO_ENV=dev on a development machine)"
        )
    return str(value)
