from kit.migrate import run_env
from language.directory import metadata as directory_metadata
from volunteers.models import metadata

run_env(metadata, include=[directory_metadata])
