#!/usr/bin/env bash
# Installs the system packages the test suite needs, and only those that are
# missing, so it is quick and quiet on a machine that has them.
#   PostgreSQL server: the store tests start a throwaway cluster with its
#   initdb/pg_ctl (tests/conftest.py, gateway/devtools/pgcluster.py).
set -euo pipefail

have_postgres_server() {
    command -v initdb >/dev/null 2>&1 && return 0
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

if have_postgres_server; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "The PostgreSQL server is missing and this is no apt-based system: install it" \
         "(initdb and pg_ctl), or set GATEWAY_TEST_POSTGRES_DSN to a server." >&2
    exit 1
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "The PostgreSQL server is missing; install it as root:" \
             "apt-get install postgresql" >&2
        exit 1
    fi
    sudo=(sudo)
fi

echo "Installing the PostgreSQL server for the store tests (apt-get)..."
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends postgresql >/dev/null
have_postgres_server || { echo "initdb is still missing after installing postgresql" >&2; exit 1; }
