from kit.migrate import run_env
from volunteers.models import metadata

run_env(metadata, directory=True)
