# shellcheck shell=bash
# Start a throw-away PostgreSQL server for the run-store tests and export its URL.
#
# Source it (after `apt-get install -y postgresql`):   . .ci/start-postgres.sh
# Exports DATAOPS_TEST_PG_URL (postgresql+psycopg://dataops:dataops@127.0.0.1:PORT/dataops_test),
# DATAOPS_REQUIRE_PG=1 (the PostgreSQL tests then fail instead of skipping) and DATAOPS_PG_DATA;
# defines `dataops_stop_postgres`. It uses its own data folder and a free port, so it never touches
# a system cluster. Sourced: it returns non-zero on failure and never exits the caller's shell.

dataops_start_postgres() {
    local bindir port data runas=() log
    bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$bindir" ] || [ ! -x "$bindir/pg_ctl" ]; then
        echo "start-postgres: no PostgreSQL under /usr/lib/postgresql/*/bin; run 'apt-get install -y postgresql' first" >&2
        return 1
    fi
    if [ "$(id -u)" = 0 ]; then
        # The server refuses to run as root: run it as the postgres user the package created.
        if ! id postgres >/dev/null 2>&1; then
            echo "start-postgres: running as root but there is no 'postgres' user" >&2
            return 1
        fi
        runas=(runuser -u postgres --)
    fi
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    data=$(mktemp -d /tmp/dataops-pg.XXXXXX)
    log="$data/server.log"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$data"; fi
    chmod 700 "$data"
    echo postgres >"$data/pwfile"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$data/pwfile"; fi
    if ! "${runas[@]}" "$bindir/initdb" -D "$data/db" -U postgres --auth-local=trust \
            --auth-host=scram-sha-256 --pwfile="$data/pwfile" -E UTF8 --no-locale >"$data/initdb.log" 2>&1; then
        echo "start-postgres: initdb failed:" >&2; cat "$data/initdb.log" >&2
        rm -rf "$data"
        return 1
    fi
    if ! "${runas[@]}" "$bindir/pg_ctl" -D "$data/db" -l "$log" -w -t 60 \
            -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null; then
        echo "start-postgres: the server did not start:" >&2; cat "$log" >&2
        return 1
    fi
    if ! "${runas[@]}" "$bindir/psql" -h "$data" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
            -c "CREATE ROLE dataops LOGIN PASSWORD 'dataops'" \
            -c "CREATE DATABASE dataops_test OWNER dataops" >/dev/null; then
        echo "start-postgres: could not create the dataops role and database" >&2
        return 1
    fi
    export DATAOPS_PG_DATA="$data"
    export DATAOPS_PG_BIN="$bindir"
    export DATAOPS_TEST_PG_URL="postgresql+psycopg://dataops:dataops@127.0.0.1:$port/dataops_test"
    export DATAOPS_REQUIRE_PG=1
    echo "start-postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data $data)"
}

dataops_stop_postgres() {
    [ -n "${DATAOPS_PG_DATA:-}" ] || return 0
    local runas=()
    if [ "$(id -u)" = 0 ]; then runas=(runuser -u postgres --); fi
    "${runas[@]}" "$DATAOPS_PG_BIN/pg_ctl" -D "$DATAOPS_PG_DATA/db" -m fast -w stop >/dev/null
    rm -rf "$DATAOPS_PG_DATA"
    unset DATAOPS_PG_DATA DATAOPS_TEST_PG_URL DATAOPS_REQUIRE_PG
}

dataops_start_postgres
