from funding.models import metadata
from kit.migrate import run_env

run_env(metadata, directory=True)
