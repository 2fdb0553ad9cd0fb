from kit.migrate import run_env
from projects.models import metadata

run_env(metadata, directory=True)
