#!/usr/bin/env bash
# `make run`: the gateway on the example configuration, with the stand-ins for
# the networks it talks to beside it on loopback: the Digipoort simulator
# (127.0.0.1:8783, test certificates in $GATEWAY_DATA_DIR/digipoort-pki,
# delivering to the gateway's AfleverService on 127.0.0.1:8784 when asked on its
# control API, http://127.0.0.1:8785/control/deliveries), the
# Peppol access point simulator (127.0.0.1:8781, delivering into the channel's
# inbox folder) and a local SMTP server that prints every e-mail
# (127.0.0.1:1025). Both simulators keep what they were sent in
# $GATEWAY_DATA_DIR (digipoort-simulator/, peppol-simulator/), so statuses and
# receipts of messages sent before a restart still come. Ctrl-C stops all of them;
# the script then exits with the gateway's status, 0 when it stopped in order.
set -euo pipefail

BIN=${BIN:-.venv/bin}
CONFIG=${CONFIG:-examples/gateway.toml}
DATA=${GATEWAY_DATA_DIR:?GATEWAY_DATA_DIR must name the data directory}
# The example configuration reads the API token from WISSEL_API_TOKEN. A
# local run gets a fixed one unless you set your own; the API listens on
# loopback only.
export WISSEL_API_TOKEN=${WISSEL_API_TOKEN:-wissel-local-development}

children=()
gateway=
stop_children() {
    for pid in "${children[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
# A signal asks for a stop: the script ends as the gateway's own stop ends, 0
# when it stopped in order, so that make does not report a clean stop as
# "Error 143" (or 130); a gateway that fails, or fails to stop, still fails.
stop_on_signal() {
    # A second signal is passed on: the gateway then ends at once, and not cleanly.
    trap '[ -z "$gateway" ] || kill "$gateway" 2>/dev/null || true' INT TERM HUP
    local status=0
    if [ -n "$gateway" ]; then
        kill "$gateway" 2>/dev/null || true
        # A signal cuts `wait` short too: wait until the gateway has ended, then
        # ask for its status, which bash keeps.
        while kill -0 "$gateway" 2>/dev/null; do wait "$gateway" || true; done
        wait "$gateway" || status=$?
    fi
    exit "$status"
}
# Every way out stops the children: the end of the gateway, Ctrl-C, kill (make
# forwards it), a closed terminal. The gateway runs in the background too, since
# bash runs a trap only once the foreground command has ended; `wait` is cut
# short at once.
trap stop_children EXIT
trap stop_on_signal INT TERM HUP

mkdir -p "$DATA/peppol/inbox"
# It starts before the gateway: a delivery asked for until the gateway is up is
# tried again until it is.
"$BIN/gateway" --config "$CONFIG" simulate digipoort --listen 127.0.0.1:8783 \
    --pki-dir "$DATA/digipoort-pki" --state-dir "$DATA/digipoort-simulator" \
    --deliver-to https://127.0.0.1:8784/ --control-listen 127.0.0.1:8785 &
children+=($!)
"$BIN/gateway" --config "$CONFIG" simulate peppol --listen 127.0.0.1:8781 \
    --deliver-dir "$DATA/peppol/inbox" --state-dir "$DATA/peppol-simulator" &
children+=($!)
"$BIN/python" -m aiosmtpd --nosetuid --listen 127.0.0.1:1025 --class aiosmtpd.handlers.Debugging &
children+=($!)

# The gateway's digipoort channel reads the certificates the simulator makes
# (its AfleverService's too): the simulator listens once all are written.
digipoort=127.0.0.1:8783
for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/${digipoort%:*}/${digipoort##*:}") 2>/dev/null && break
    sleep 0.1
done

echo "API token for this run: \$WISSEL_API_TOKEN = $WISSEL_API_TOKEN"
"$BIN/gateway" --config "$CONFIG" run &
gateway=$!
children+=("$gateway")
wait "$gateway"
