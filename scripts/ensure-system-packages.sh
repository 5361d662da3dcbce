#!/usr/bin/env bash
# Installs the system packages the test suite needs, and only those that are
# missing, so it is quick and quiet on a machine that has them.
#   PostgreSQL server: the store tests start a throwaway cluster with its
#   initdb/pg_ctl (tests/conftest.py, gateway/devtools/pgcluster.py).
#   A headless Chromium: the readable renderings are printed to PDF with it and
#   checked in a real browser (gateway/render/pdf.py, tests/test_render.py).
#   A font with Chinese and Japanese glyphs: DejaVu, which comes with Chromium,
#   has none, and a name in those scripts printed as empty boxes.
set -euo pipefail

have_postgres_server() {
    command -v initdb >/dev/null 2>&1 && return 0
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

have_headless_browser() {
    command -v chromium-headless-shell >/dev/null 2>&1 || command -v chromium >/dev/null 2>&1
}

have_cjk_font() {  # a font that has U+6771 (東)
    command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :charset=6771 family)" ]
}

missing=()
have_postgres_server || missing+=(postgresql)
have_headless_browser || missing+=(chromium-headless-shell)
have_cjk_font || missing+=(fonts-droid-fallback)
if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "Missing: ${missing[*]}, and this is no apt-based system: install the PostgreSQL" \
         "server (initdb and pg_ctl) or set GATEWAY_TEST_POSTGRES_DSN, and a headless Chromium." >&2
    exit 1
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "Missing system packages; install them as root:" \
             "apt-get install ${missing[*]}" >&2
        exit 1
    fi
    sudo=(sudo)
fi

echo "Installing ${missing[*]} for the test suite (apt-get)..."
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
have_postgres_server || { echo "initdb is still missing after installing postgresql" >&2; exit 1; }
