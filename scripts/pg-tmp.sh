#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests and benchmarks: Debian's packaged server, its
# own data folder in the system temp dir, a free loopback port, no service.
#
#   eval "$(scripts/pg-tmp.sh start)"      # exports DATABASE_URL, PGTMP_DIR, PGTMP_PORT
#   trap 'scripts/pg-tmp.sh stop "$PGTMP_DIR"' EXIT
#   scripts/pg-tmp.sh restart "$PGTMP_DIR"  # stop fast (-m immediate) and start again
#
# Durability is off (fsync, synchronous_commit, full_page_writes) unless PG_DURABLE=1:
# tests want speed, benchmarks and crash tests want the real thing.
# PG_OPTIONS adds server options, e.g. for profiling:
#   PG_OPTIONS="-c shared_preload_libraries=pg_stat_statements" scripts/pg-tmp.sh start
# Installs the `postgresql` package when its binaries are missing (INSTALL=0 refuses).
# As root, the server runs as the `postgres` user the package creates (initdb refuses
# to run as root).
set -euo pipefail

pgbin() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
    if [[ -z $dir || ! -x $dir/initdb ]]; then
        if [[ ${INSTALL:-1} == 0 ]]; then
            echo "pg-tmp: PostgreSQL is not installed (apt-get install postgresql)" >&2
            return 1
        fi
        local sudo=""
        [[ $(id -u) -ne 0 ]] && sudo=sudo
        echo "pg-tmp: installing Debian's postgresql package" >&2
        $sudo apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >&2
        dir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    fi
    echo "$dir"
}

# Runs a server command as the data folder's owner.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

server_options() {
    local dir=$1 port=$2
    local options="-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300"
    if [[ ${PG_DURABLE:-0} != 1 ]]; then
        options+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    echo "$options ${PG_OPTIONS:-}"
}

start() {
    local bin dir port
    bin=$(pgbin)
    dir=$(mktemp -d "${TMPDIR:-/tmp}/satchel-pg.XXXXXX")
    chmod 755 "$dir"
    [[ $(id -u) -eq 0 ]] && chown postgres: "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync \
        > "$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    echo "$port" > "$dir/port"
    echo "${PG_DURABLE:-0}" > "$dir/durable"
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -o "$(server_options "$dir" "$port")" start > /dev/null \
        || { cat "$dir/server.log" >&2; exit 1; }
    echo "export PGTMP_DIR=$dir PGTMP_PORT=$port PGTMP_BIN=$bin"
    echo "export DATABASE_URL=postgres://postgres@127.0.0.1:$port/postgres"
}

stop() {
    local dir=${1:?usage: pg-tmp.sh stop DIR}
    local bin
    bin=$(INSTALL=0 pgbin)
    [[ -d $dir/data ]] && as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop > /dev/null 2>&1 || true
    rm -rf "$dir"
}

restart() {
    local dir=${1:?usage: pg-tmp.sh restart DIR}
    local bin port
    bin=$(INSTALL=0 pgbin)
    port=$(cat "$dir/port")
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop > /dev/null
    PG_DURABLE=$(cat "$dir/durable") as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -o "$(PG_DURABLE=$(cat "$dir/durable") server_options "$dir" "$port")" start > /dev/null
}

case ${1:-} in
    start) start ;;
    stop) stop "${2:-}" ;;
    restart) restart "${2:-}" ;;
    *) echo "usage: pg-tmp.sh start | stop DIR | restart DIR" >&2; exit 2 ;;
esac
