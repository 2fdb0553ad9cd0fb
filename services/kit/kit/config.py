"""Service configuration, read exactly as ``nameko run --config`` reads it.

``${ENV_VAR:default}`` anywhere in a value is replaced from the environment (nameko's own YAML
constructor does it, so tests, scripts and ``nameko run`` agree). Use ``!raw_env_var`` for
secrets so a value such as ``yes`` or ``0123`` stays a string.

The substitution is taught to a loader of this module's own, not to yaml's ``SafeLoader`` as
nameko's ``setup_yaml_parser`` does: a ``yaml.safe_load`` elsewhere in the same process (a
test reading the compose file's ``${VAR:?message}``) keeps reading plain YAML.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import yaml
from nameko.cli.main import IMPLICIT_ENV_VAR_MATCHER, env_var_constructor


class ConfigLoader(yaml.SafeLoader):
    """yaml's safe loader with nameko's ``${ENV_VAR:default}``, ``!env_var`` and
    ``!raw_env_var``."""


ConfigLoader.add_constructor("!env_var", env_var_constructor)
ConfigLoader.add_constructor("!raw_env_var", partial(env_var_constructor, raw=True))
ConfigLoader.add_implicit_resolver("!env_var", IMPLICIT_ENV_VAR_MATCHER, None)


def load_config(path: str | Path, **overrides: Any) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        config = yaml.load(handle, Loader=ConfigLoader) or {}  # noqa: S506 - a safe loader
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
