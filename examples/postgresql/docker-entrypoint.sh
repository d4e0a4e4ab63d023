#!/bin/bash
# The entrypoint the guide's Dockerfile copies in: initialise the cluster in an empty data volume, set the
# postgres password from POSTGRES_PASSWORD (never printed), then run the server as postgres in the foreground
# (PID 1's child replaced by exec, so `stop` reaches it). Other commands run as given (`psql ...`).
set -euo pipefail

PGDATA=${PGDATA:-/var/lib/pgsql/data}
export PGDATA

if [ "${1:-postgres}" = "postgres" ]; then
    mkdir -p "$PGDATA" /var/log/pgsql
    chown -R postgres:postgres "$PGDATA" /var/log/pgsql
    chmod 0700 "$PGDATA"
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        su - postgres -c "initdb -D '$PGDATA' --encoding=UTF8 --auth-local=peer --auth-host=md5" >/dev/null
        echo "host all all 0.0.0.0/0 md5" >> "$PGDATA/pg_hba.conf"
        echo "listen_addresses='*'" >> "$PGDATA/postgresql.conf"
    fi
    if [ -n "${POSTGRES_PASSWORD:-}" ]; then
        su - postgres -c "postgres --single -D '$PGDATA' postgres" >/dev/null <<SQL
ALTER USER postgres WITH PASSWORD '${POSTGRES_PASSWORD//\'/\'\'}';
SQL
    fi
    shift || true
    exec su postgres -c "exec postgres -D '$PGDATA' $*"
fi

exec "$@"
