from funding.models import metadata
from kit.migrate import run_env
from language.directory import metadata as directory_metadata

run_env(metadata, include=[directory_metadata])
