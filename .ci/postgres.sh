#!/usr/bin/env bash
# A throwaway PostgreSQL for the store tests.
#
#   source .ci/postgres.sh          start (or reuse) it and export OSCARTES_TEST_POSTGRES_URL
#   .ci/postgres.sh                 the same, and print `export OSCARTES_TEST_POSTGRES_URL=...` on stdout
#   .ci/postgres.sh stop            stop it and delete its files
#
# Installs PostgreSQL from Debian's packages if no initdb/pg_ctl is found (root only), creates a cluster in
# $OSCARTES_PG_DIR (default: $TMPDIR or /tmp, /oscartes-ci-postgres) owned by `postgres` when run as root (the
# server refuses to run as root), listening on 127.0.0.1 on a free port (password auth) and on a socket in that
# directory, with a role and a database named oscartes_test. Running it again reuses the running server.
# Progress goes to stderr; the script changes nothing in the calling shell except that one variable.

_oscartes_pg_log() { printf 'postgres.sh: %s\n' "$*" >&2; }

# Runs in a subshell: strict mode and `exit` stay inside. Prints the URL on stdout on success.
_oscartes_pg_up() (
    set -euo pipefail
    local base="${OSCARTES_PG_DIR:-${TMPDIR:-/tmp}/oscartes-ci-postgres}"
    local data="$base/data" sock="$base/run" log="$base/server.log"
    local db=oscartes_test role=oscartes
    local bindir="" candidate run_as=()

    find_bindir() {
        bindir=""
        if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
            bindir="$(dirname "$(readlink -f "$(command -v pg_ctl)")")"
            [ -x "$bindir/initdb" ] || bindir=""
        fi
        if [ -z "$bindir" ]; then
            # Debian keeps them out of PATH, one directory per major version: take the newest
            for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
                if [ -x "$candidate/pg_ctl" ] && [ -x "$candidate/initdb" ]; then bindir="$candidate"; break; fi
            done
        fi
    }

    find_bindir
    if [ -z "$bindir" ]; then
        if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
            _oscartes_pg_log "PostgreSQL is not installed and I cannot install it (need root and apt-get)."
            _oscartes_pg_log "Install it (Debian: apt-get install postgresql) or set OSCARTES_TEST_POSTGRES_URL yourself."
            exit 1
        fi
        _oscartes_pg_log "installing PostgreSQL with apt-get (no default cluster)"
        # Debian's package would create and start a cluster on port 5432 that nobody here needs
        mkdir -p /etc/postgresql-common/createcluster.d
        echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/oscartes-ci.conf
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq --no-install-recommends postgresql >&2
        find_bindir
        [ -n "$bindir" ] || { _oscartes_pg_log "apt-get installed PostgreSQL but no pg_ctl/initdb was found"; exit 1; }
    fi
    local version
    version="$("$bindir/pg_ctl" --version | sed -E 's/.* ([0-9]+)(\.[0-9]+)?.*/\1/')"

    # The server refuses to run as root: as root, everything server-side runs as `postgres`
    if [ "$(id -u)" = 0 ]; then
        if ! id postgres >/dev/null 2>&1; then
            _oscartes_pg_log "creating the system user postgres"
            useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
        fi
        if command -v runuser >/dev/null 2>&1; then run_as=(runuser -u postgres --); else run_as=(su_postgres); fi
    fi
    su_postgres() { su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; }
    as_server() { if [ ${#run_as[@]} -gt 0 ]; then "${run_as[@]}" "$@"; else "$@"; fi; }

    if [ ${#run_as[@]} -gt 0 ] && ! "${run_as[@]}" test -x "$(dirname "$base")"; then
        _oscartes_pg_log "user postgres cannot reach $(dirname "$base"); set OSCARTES_PG_DIR to a path under /tmp"
        exit 1
    fi
    mkdir -p "$base"
    chmod 700 "$base"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$base"; fi

    local password_file="$base/password"
    if [ ! -s "$password_file" ]; then
        (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$password_file")
    fi
    local password
    password="$(cat "$password_file")"

    # A cluster of another major version (or a half-made one) is thrown away: it is only test data
    if [ -d "$data" ] && [ "$(cat "$data/PG_VERSION" 2>/dev/null || true)" != "$version" ]; then
        _oscartes_pg_log "removing the unusable cluster in $data"
        as_server "$bindir/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$data"
    fi
    if [ ! -d "$data" ]; then
        _oscartes_pg_log "creating a PostgreSQL $version cluster in $data"
        as_server mkdir -p "$sock"
        as_server "$bindir/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
            -E UTF8 --locale=C.UTF-8 >"$base/initdb.log" 2>&1 \
            || as_server "$bindir/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
                -E UTF8 --locale=C >"$base/initdb.log" 2>&1 \
            || { _oscartes_pg_log "initdb failed, see $base/initdb.log"; rm -rf "$data"; exit 1; }
        # A test database: speed over durability
        cat >> "$data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sock'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
max_connections = 50
EOF
    fi
    as_server mkdir -p "$sock"

    local port
    if as_server "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        port="$(sed -n 4p "$data/postmaster.pid")"
        _oscartes_pg_log "reusing the server already running on 127.0.0.1:$port ($data)"
    else
        rm -f "$data/postmaster.pid" 2>/dev/null || true
        local started=""
        for port in $(seq 54329 54429); do
            # something answers on it: taken
            if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
            if as_server "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 60 -o "-p $port" start >/dev/null 2>&1; then
                started=1; break
            fi
            # another process took the port between the probe and the start: try the next one
            if ! tail -n 20 "$log" 2>/dev/null | grep -q "already in use"; then
                tail -n 5 "$log" >&2 || true
                break
            fi
        done
        [ -n "$started" ] || { _oscartes_pg_log "could not start PostgreSQL, see $log"; exit 1; }
        _oscartes_pg_log "started PostgreSQL $version on 127.0.0.1:$port (data $data, log $log)"
    fi

    local psql=("$bindir/psql" -h "$sock" -p "$port" -U postgres -v ON_ERROR_STOP=1 -qAt)
    if [ "$(as_server "${psql[@]}" -d postgres -c "SELECT 1 FROM pg_roles WHERE rolname = '$role'")" != 1 ]; then
        as_server "${psql[@]}" -d postgres -c "CREATE ROLE $role LOGIN PASSWORD '$password'"
        _oscartes_pg_log "created role $role"
    else
        as_server "${psql[@]}" -d postgres -c "ALTER ROLE $role PASSWORD '$password'"
    fi
    if [ "$(as_server "${psql[@]}" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
        as_server "${psql[@]}" -d postgres -c "CREATE DATABASE $db OWNER $role ENCODING 'UTF8' TEMPLATE template0"
        _oscartes_pg_log "created database $db"
    fi

    local url="postgresql+psycopg://$role:$password@127.0.0.1:$port/$db"
    (umask 077; echo "export OSCARTES_TEST_POSTGRES_URL='$url'" > "$base/env")
    _oscartes_pg_log "OSCARTES_TEST_POSTGRES_URL=postgresql+psycopg://$role:***@127.0.0.1:$port/$db (full value in $base/env)"
    printf '%s\n' "$url"
)

_oscartes_pg_down() (
    set -uo pipefail
    local base="${OSCARTES_PG_DIR:-${TMPDIR:-/tmp}/oscartes-ci-postgres}" pg_ctl=""
    [ -d "$base" ] || { _oscartes_pg_log "nothing to stop ($base does not exist)"; exit 0; }
    local version
    version="$(cat "$base/data/PG_VERSION" 2>/dev/null || true)"
    for pg_ctl in "/usr/lib/postgresql/$version/bin/pg_ctl" "$(command -v pg_ctl || true)"; do
        [ -x "$pg_ctl" ] && break
    done
    if [ -x "$pg_ctl" ] && [ -d "$base/data" ]; then
        if [ "$(id -u)" = 0 ]; then
            runuser -u postgres -- "$pg_ctl" -D "$base/data" -m fast -w stop >/dev/null 2>&1 || true
        else
            "$pg_ctl" -D "$base/data" -m fast -w stop >/dev/null 2>&1 || true
        fi
    fi
    rm -rf "$base"
    _oscartes_pg_log "stopped PostgreSQL and removed $base"
)

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
    # sourced
    if [ "${1:-}" = stop ]; then
        _oscartes_pg_down && unset OSCARTES_TEST_POSTGRES_URL
    elif _oscartes_pg_url="$(_oscartes_pg_up)"; then
        export OSCARTES_TEST_POSTGRES_URL="$_oscartes_pg_url"
        unset _oscartes_pg_url
    else
        unset _oscartes_pg_url
        _oscartes_pg_log "failed; OSCARTES_TEST_POSTGRES_URL is not set"
        return 1 2>/dev/null || true
    fi
else
    case "${1:-start}" in
        stop) _oscartes_pg_down ;;
        start) url="$(_oscartes_pg_up)" && printf "export OSCARTES_TEST_POSTGRES_URL='%s'\n" "$url" ;;
        *) _oscartes_pg_log "usage: $0 [start|stop]  (or: source $0)"; exit 2 ;;
    esac
fi
