#!/bin/sh
# Renders deploy/rabbitmq/definitions.json — the broker's users and their permissions — with
# each user's password from the environment, for RabbitMQ to load at boot (load_definitions):
#   RABBITMQ_ADMIN_PASSWORD, RABBITMQ_GATEWAY_PASSWORD, RABBITMQ_REGISTRY_PASSWORD,
#   RABBITMQ_PROJECTS_PASSWORD, RABBITMQ_FUNDING_PASSWORD, RABBITMQ_VOLUNTEERS_PASSWORD
# (letters, digits, '.', '_', '~' and '-' only: they go into AMQP URIs; openssl rand -hex 24).
# Usage: render-definitions.sh TEMPLATE OUTPUT   (OUTPUT is written mode 0600)
set -eu
template=$1
output=$2
umask 077
content=$(cat "$template")
for user in ADMIN GATEWAY REGISTRY PROJECTS FUNDING VOLUNTEERS; do
  variable="RABBITMQ_${user}_PASSWORD"
  eval "value=\${$variable:-}"
  if [ -z "$value" ]; then
    echo "render-definitions: set $variable (openssl rand -hex 24)" >&2
    exit 1
  fi
  case $value in
    *[!A-Za-z0-9._~-]*)
      echo "render-definitions: $variable may hold only letters, digits and . _ ~ -" >&2
      exit 1
      ;;
  esac
  if [ "${#value}" -lt 16 ]; then
    echo "render-definitions: $variable is shorter than 16 characters" >&2
    exit 1
  fi
  content=$(printf '%s\n' "$content" | sed "s/[\$]{$variable}/$value/g")
done
printf '%s\n' "$content" > "$output"
