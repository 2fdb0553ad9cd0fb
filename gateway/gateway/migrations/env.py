from gateway.models import metadata
from kit.migrate import run_env

run_env(metadata, kit_tables=False)
