# shellcheck shell=bash
# Start a throw-away MariaDB server for the MySQL/MariaDB check tests and export its URL.
#
# Source it (after `apt-get install -y mariadb-server`):   . .ci/start-mariadb.sh
# Exports DATAOPS_TEST_MYSQL_URL (mysql+pymysql://dataops:dataops@127.0.0.1:PORT/dataops_test),
# DATAOPS_REQUIRE_MYSQL=1 (the MariaDB tests then fail instead of skipping) and DATAOPS_MYSQL_DATA;
# defines `dataops_stop_mariadb`. It uses its own data folder, socket and a free port, so it never
# touches a system server. Sourced: it returns non-zero on failure and never exits the caller's
# shell.

dataops_start_mariadb() {
    local server install client port data runas=() i
    server=$(command -v mariadbd || echo /usr/sbin/mariadbd)
    install=$(command -v mariadb-install-db || true)
    client=$(command -v mariadb || true)
    if [ ! -x "$server" ] || [ -z "$install" ] || [ -z "$client" ]; then
        echo "start-mariadb: no mariadbd / mariadb-install-db / mariadb; run 'apt-get install -y mariadb-server' first" >&2
        return 1
    fi
    if [ "$(id -u)" = 0 ]; then
        # The server refuses to run as root: run it as the mysql user the package created.
        if ! id mysql >/dev/null 2>&1; then
            echo "start-mariadb: running as root but there is no 'mysql' user" >&2
            return 1
        fi
        runas=(--user=mysql)
    fi
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    data=$(mktemp -d /tmp/dataops-mariadb.XXXXXX)
    mkdir "$data/db"
    if [ "$(id -u)" = 0 ]; then chown -R mysql:mysql "$data"; fi
    chmod 700 "$data"
    if ! "$install" --no-defaults "${runas[@]}" --datadir="$data/db" --auth-root-authentication-method=normal \
            --skip-test-db >"$data/install.log" 2>&1; then
        echo "start-mariadb: mariadb-install-db failed:" >&2; cat "$data/install.log" >&2
        rm -rf "$data"
        return 1
    fi
    "$server" --no-defaults "${runas[@]}" --datadir="$data/db" --socket="$data/mysqld.sock" \
        --pid-file="$data/mysqld.pid" --port="$port" --bind-address=127.0.0.1 \
        --skip-log-bin --innodb-flush-log-at-trx-commit=0 --innodb-buffer-pool-size=64M \
        --log-error="$data/server.log" >/dev/null 2>&1 &
    for i in $(seq 1 120); do
        if "$client" --no-defaults -uroot --socket="$data/mysqld.sock" -e "SELECT 1" >/dev/null 2>&1; then
            break
        fi
        if [ "$i" = 120 ]; then
            echo "start-mariadb: the server did not start within 60 s:" >&2; cat "$data/server.log" >&2
            if [ -f "$data/mysqld.pid" ]; then kill "$(cat "$data/mysqld.pid")" 2>/dev/null || true; fi
            return 1
        fi
        sleep 0.5
    done
    export DATAOPS_MYSQL_DATA="$data"
    if ! "$client" --no-defaults -uroot --socket="$data/mysqld.sock" \
            -e "CREATE DATABASE dataops_test CHARACTER SET utf8mb4;
                CREATE USER 'dataops'@'127.0.0.1' IDENTIFIED BY 'dataops';
                GRANT ALL ON *.* TO 'dataops'@'127.0.0.1';" >/dev/null; then
        echo "start-mariadb: could not create the dataops user and database" >&2
        return 1
    fi
    export DATAOPS_TEST_MYSQL_URL="mysql+pymysql://dataops:dataops@127.0.0.1:$port/dataops_test"
    export DATAOPS_REQUIRE_MYSQL=1
    echo "start-mariadb: MariaDB $("$server" --version | awk '{print $3}') on 127.0.0.1:$port (data $data)"
}

dataops_stop_mariadb() {
    [ -n "${DATAOPS_MYSQL_DATA:-}" ] || return 0
    local pid i
    pid=$(cat "$DATAOPS_MYSQL_DATA/mysqld.pid" 2>/dev/null || true)
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        for i in $(seq 1 60); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
    fi
    rm -rf "$DATAOPS_MYSQL_DATA"
    unset DATAOPS_MYSQL_DATA DATAOPS_TEST_MYSQL_URL DATAOPS_REQUIRE_MYSQL
}

dataops_start_mariadb
