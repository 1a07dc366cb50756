#!/usr/bin/env bash
# Load on the example server over TLS with client certificates (issue #16), beside plain HTTP,
# with one load client for both (apps/server/src/bin/tls_load.rs; wrk cannot present a
# client certificate), and wrk on plain HTTP as a cross-check of that client. See
# benches/README.md, "Load over TLS with client certificates".
#
#   bash benches/tls_load.sh            # about 2 minutes
#
# Certificates are made in a temporary directory with openssl (P-256). Configurations, each
# with the all-zero admin key of config.example.json:
#   plain      no tls (loopback HTTP), no registry, no audit trail
#   tls        "tls" only
#   secured    "tls", "registry" (the request registered for alice), "audit_log"
# Server pinned to core SERVER_CPU (1), client to CLIENT_CPU (0); DURATION (5) seconds per
# run; PLAIN_LISTEN / TLS_LISTEN (127.0.0.1:18083 / 127.0.0.1:18443). Servers stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${DURATION:-5}" server_cpu="${SERVER_CPU:-1}" client_cpu="${CLIENT_CPU:-0}"
plain_listen="${PLAIN_LISTEN:-127.0.0.1:18083}" tls_listen="${TLS_LISTEN:-127.0.0.1:18443}"
cargo build --release --locked --manifest-path apps/server/Cargo.toml --bins >&2
bin=target/release/cardadmin-server load=target/release/tls_load
work="$(mktemp -d "${TMPDIR:-/tmp}/tls-load.XXXXXX")"
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

for ca in ca; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -keyout "$work/$ca.key" -out "$work/$ca.pem" -subj "/CN=load CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
done
leaf() { # leaf NAME CN EXT
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/$1.key" \
        -out "$work/$1.csr" -subj "/CN=$2" 2>/dev/null
    printf '%b' "$3" >"$work/$1.ext"
    openssl x509 -req -in "$work/$1.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
        -out "$work/$1.pem" -days 2 -extfile "$work/$1.ext" 2>/dev/null
}
leaf server localhost 'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n'
leaf alice alice 'keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n'

key='"initial_admin_key": "000000000000000000000000000000000000000000000000", "diversification_key": "3C5A1E7F29D48B06C17E5AF3920B6D4E8F15A7C3D26E9B04"'
tls="\"tls\": {\"cert\": \"$work/server.pem\", \"key\": \"$work/server.key\", \"client_ca\": \"$work/ca.pem\"}"
printf '{%s}\n' "$key" >"$work/plain.json"
printf '{%s, %s}\n' "$key" "$tls" >"$work/tls.json"
printf '{%s, %s, "registry": "%s", "audit_log": "%s"}\n' "$key" "$tls" "$work/registry.sqlite" "$work/audit.jsonl" >"$work/secured.json"
req=a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099 scid=17cf063d-e337-4aa9-a822-346554ddd3c9 card=bc88f13f-83ba-4037-8262-46eba1291c6e
"$bin" requests add --config "$work/secured.json" --reqid $req --scid $scid --cardid $card --operator alice >/dev/null
path="/CertificateManagement/api/v1.0/requests/$req/smartcards/$scid"
documented="$path/authenticationresponse?cardid=$card&challenge=1hFD%2Bcz%2F0so%3D&diversified=False"
diversified="$path/authenticationresponse?cardid=$card&challenge=1hFD%2Bcz%2F0so%3D&diversified=True"
divkey="$path/diversifiedkey?cardid=$card"

start() { # start CONFIG LISTEN
    taskset -c "$server_cpu" "$bin" --config "$1" --listen "$2" >/dev/null 2>"$work/stderr" &
    pid=$!
    local host="${2%:*}" port="${2##*:}" waited=0
    until (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 300 ] || { cat "$work/stderr"; exit 1; }
        sleep 0.1; waited=$((waited + 1))
    done
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }
run() { # run NAME URL CONNECTIONS [tls]
    local certs=()
    [ "${4:-}" = tls ] && certs=(--ca "$work/ca.pem" --cert "$work/alice.pem" --key "$work/alice.key")
    printf '%-10s %-28s c=%-3s ' "$5" "$1" "$3"
    taskset -c "$client_cpu" "$load" --url "$2" --connections "$3" --seconds "$duration" "${certs[@]}"
}
for config in plain tls secured; do
    if [ "$config" = plain ]; then start "$work/plain.json" "$plain_listen"; scheme=http listen=$plain_listen mode=""
    else start "$work/$config.json" "$tls_listen"; scheme=https listen=$tls_listen mode=tls; fi
    for c in 1 16; do
        run "documented (diversified=False)" "$scheme://$listen$documented" "$c" "$mode" "$config"
        run "diversified=True" "$scheme://$listen$diversified" "$c" "$mode" "$config"
        run "diversifiedkey" "$scheme://$listen$divkey" "$c" "$mode" "$config"
    done
    if [ "$config" = plain ] && command -v wrk >/dev/null; then
        echo "wrk cross-check, plain, documented, c=16:"
        taskset -c "$client_cpu" wrk -t1 -c16 -d"${duration}s" --latency "http://$listen$documented" | grep -E "Requests/sec|50%|99%"
    fi
    if [ "$config" = secured ]; then
        echo "audit trail: $("$bin" verify-audit "$work/audit.jsonl")"
    fi
    stop
done
