#!/bin/sh
# One-shot schema setup for Temporal's two databases (run by the temporal-admin-tools service
# in docker-compose.yml, image temporalio/admin-tools). Follows the layout of Temporal's
# samples-server compose files: create the database, stamp version 0.0, then apply every
# versioned schema shipped in the image.
#
# Safe to re-run on every `docker compose up`: `create` ignores an existing database,
# `setup-schema -v 0.0` leaves a newer schema version alone, and `update-schema` applies only
# the versions the database does not have yet (which is also how a server upgrade migrates).
#
# Environment (set in docker-compose.yml):
#   POSTGRES_SEEDS  host of the Postgres server            (default: postgres)
#   DB_PORT         its port                               (default: 5432)
#   POSTGRES_USER   role that owns Temporal's databases     (default: temporal)
#   SQL_PASSWORD    that role's password; temporal-sql-tool reads it from the environment
set -eu

PG_HOST="${POSTGRES_SEEDS:-postgres}"
PG_PORT="${DB_PORT:-5432}"
PG_USER="${POSTGRES_USER:-temporal}"
SCHEMA_ROOT=/etc/temporal/schema/postgresql/v12

if [ -z "${SQL_PASSWORD:-}" ]; then
  echo "setup-postgres: SQL_PASSWORD is not set" >&2
  exit 1
fi

echo "setup-postgres: waiting for ${PG_HOST}:${PG_PORT}"
attempt=0
until nc -z -w 5 "$PG_HOST" "$PG_PORT"; do
  attempt=$((attempt + 1))
  if [ "$attempt" -ge 60 ]; then
    echo "setup-postgres: ${PG_HOST}:${PG_PORT} not reachable" >&2
    exit 1
  fi
  sleep 2
done

sql_tool() {
  temporal-sql-tool --plugin postgres12 --ep "$PG_HOST" -p "$PG_PORT" -u "$PG_USER" "$@"
}

# $1 = database name, $2 = schema folder under $SCHEMA_ROOT (temporal | visibility)
setup_db() {
  echo "setup-postgres: database $1"
  sql_tool --db "$1" create
  sql_tool --db "$1" setup-schema -v 0.0
  sql_tool --db "$1" update-schema -d "$SCHEMA_ROOT/$2/versioned"
}

setup_db temporal temporal
setup_db temporal_visibility visibility

echo "setup-postgres: Temporal schemas are up to date"
