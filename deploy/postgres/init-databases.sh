#!/bin/bash
# Runs once, when the postgres service initialises an empty data volume (mounted into
# /docker-entrypoint-initdb.d by docker-compose.yml). The image has already created the
# superuser $POSTGRES_USER (temporal) and its database; Temporal's schema job creates
# `temporal` and `temporal_visibility` itself. This adds Tessera's own role and database,
# kept apart from Temporal's: Tessera connects as `tessera`, which owns only `tessera`.
#
# To change TESSERA_DB_PASSWORD after the first boot, ALTER ROLE by hand (or remove the
# volume): this script does not run again on an initialised volume.
set -euo pipefail

: "${TESSERA_DB_PASSWORD:?TESSERA_DB_PASSWORD must be set for the postgres service}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-$POSTGRES_USER}" \
  -v tessera_password="$TESSERA_DB_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE tessera LOGIN PASSWORD %L', :'tessera_password')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tessera')
\gexec

SELECT 'CREATE DATABASE tessera OWNER tessera'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'tessera')
\gexec

-- Only its owner (and the superuser) may connect to Tessera's data.
REVOKE ALL ON DATABASE tessera FROM PUBLIC;
SQL

echo "init-databases: role and database 'tessera' are ready"
