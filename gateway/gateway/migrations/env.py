from kit.migrate import run_env

from gateway.models import metadata

run_env(metadata, kit_tables=False)
