from gateway.models import INCLUDE_METADATA, metadata
from kit.migrate import run_env

run_env(metadata, kit_tables=False, include=list(INCLUDE_METADATA))
