#!/usr/bin/env bash
# The documented request over TLS with client certificates, audited (registry + trail) against
# TLS alone, for the embedded backend (SQLite registry + JSON-lines trail) and for PostgreSQL
# ("database") with one and with two instances (issue #23). One load client
# (apps/server/src/bin/tls_load.rs), CONNECTIONS (16) connections in all (split over the
# instances), DURATION (10) seconds a run, ROUNDS (3) rounds of every configuration, the medians
# last. See benches/README.md, "Several instances".
#
#   bash benches/cluster_load.sh          # about 5 minutes after the release build
#
# A throwaway PostgreSQL cluster (Debian's postgresql: initdb in a temporary directory, as user
# postgres when run as root) on 127.0.0.1:PG_PORT (19834), stopped by its PID; servers on
# LISTEN_A / LISTEN_B (127.0.0.1:19853 / 19854). The client runs on core CLIENT_CPU (0), the
# servers on SERVER_CPU (1); PostgreSQL is not pinned (on a 2-core machine it shares both).
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${DURATION:-10}" rounds="${ROUNDS:-3}" connections="${CONNECTIONS:-16}" pg_port="${PG_PORT:-19834}"
listen_a="${LISTEN_A:-127.0.0.1:19853}" listen_b="${LISTEN_B:-127.0.0.1:19854}"
server_cpu="${SERVER_CPU:-1}" client_cpu="${CLIENT_CPU:-0}"
cargo build --release --locked -p cardadmin-server --bins >&2
bin="$PWD/target/release/cardadmin-server" load="$PWD/target/release/tls_load"
work="$(mktemp -d "${TMPDIR:-/tmp}/cluster-load.XXXXXX")"
chmod 755 "$work"
pids=() pg_pid=""
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [ -n "$pg_pid" ]; then
        kill -INT "$pg_pid" 2>/dev/null || true
        while kill -0 "$pg_pid" 2>/dev/null; do sleep 0.1; done
    fi
    rm -rf "$work"
}
trap cleanup EXIT

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
bindir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
mkdir "$work/pg"
[ "$(id -u)" = 0 ] && chown postgres "$work/pg"
as_pg "$bindir/initdb" -D "$work/pg/data" -A trust -U postgres >/dev/null
as_pg "$bindir/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $work/pg" start >/dev/null
pg_pid="$(head -n 1 "$work/pg/data/postmaster.pid")"
url="postgresql://postgres@127.0.0.1:$pg_port"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -keyout "$work/ca.key" \
    -out "$work/ca.pem" -subj "/CN=load CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
leaf() { # leaf NAME EXT
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/$1.key" \
        -out "$work/$1.csr" -subj "/CN=$1" 2>/dev/null
    printf '%b' "$2" >"$work/$1.ext"
    openssl x509 -req -in "$work/$1.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
        -out "$work/$1.pem" -days 2 -extfile "$work/$1.ext" 2>/dev/null
}
leaf server 'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n'
leaf alice 'keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n'

key='"initial_admin_key": "000000000000000000000000000000000000000000000000", "diversification_key": "5C1E8A3F7D2B9046E1A7C3F5082D4B6978F1A2C3D4E5F607"'
tls="\"tls\": {\"cert\": \"$work/server.pem\", \"key\": \"$work/server.key\", \"client_ca\": \"$work/ca.pem\"}"
printf '{%s, %s}\n' "$key" "$tls" >"$work/tls.json"
printf '{%s, %s, "registry": "%s", "audit_log": "%s"}\n' "$key" "$tls" "$work/registry.sqlite" "$work/audit.jsonl" >"$work/file.json"
for node in a b; do
    printf '{%s, %s, "database": "%s/postgres", "node_id": "%s"}\n' "$key" "$tls" "$url" "$node" >"$work/pg-$node.json"
done
req=a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099 scid=17cf063d-e337-4aa9-a822-346554ddd3c9 card=bc88f13f-83ba-4037-8262-46eba1291c6e
for config in file pg-a; do
    "$bin" requests add --config "$work/$config.json" --reqid $req --scid $scid --cardid $card --operator alice >/dev/null 2>&1
done
documented="/CertificateManagement/api/v1.0/requests/$req/smartcards/$scid/authenticationresponse?cardid=$card&challenge=1hFD%2Bcz%2F0so%3D&diversified=False"

start() { # start CONFIG LISTEN
    taskset -c "$server_cpu" "$bin" --config "$1" --listen "$2" >/dev/null 2>"$work/stderr.$2" &
    pids+=($!)
    local port="${2##*:}" waited=0
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        [ "$waited" -lt 300 ] || { cat "$work/stderr.$2"; exit 1; }
        sleep 0.1; waited=$((waited + 1))
    done
}
stop_all() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    pids=()
}
# run LISTEN...: the load split over the listed instances; prints the summed requests/s.
run() {
    local per=$((connections / $#)) outs=() i=0
    for listen in "$@"; do
        taskset -c "$client_cpu" "$load" --url "https://$listen$documented" --connections "$per" \
            --seconds "$duration" --ca "$work/ca.pem" --cert "$work/alice.pem" --key "$work/alice.key" \
            >"$work/out.$i" &
        outs+=($!)
        i=$((i + 1))
    done
    for pid in "${outs[@]}"; do wait "$pid"; done
    cat "$work"/out.* | grep -Eo 'statuses \{[^}]*\}' | grep -Ev '^statuses \{200: [0-9]+\}$' && {
        echo "not every answer was 200" >&2; exit 1; }
    cat "$work"/out.* | grep -Eo '[0-9]+ requests/s' | awk '{s += $1} END {print s}'
    rm -f "$work"/out.*
}
row() { # row NAME AUDITED TLS
    printf '%-44s %9s %9s %6s%%\n' "$1" "$2" "$3" "$(awk -v a="$2" -v t="$3" 'BEGIN {printf "%.0f", 100 * a / t}')"
}
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
# A virtual machine's neighbours make one run's figures drift by half (seen here: TLS alone at
# 6,838 and 12,206 requests/s in two runs minutes apart), so every configuration runs once per
# round, each audited run right after its TLS-only run, and the table gives each round's
# ratios and then the medians.
echo "c=$connections, ${duration}s a run, $rounds rounds; requests/s of the documented request (authenticationresponse, diversified=False)"
printf '%-44s %9s %9s %7s\n' backend audited TLS-only ratio
all_tls1=() all_file=() all_pg1=() all_tls2=() all_pg2=()
for round in $(seq 1 "$rounds"); do
    start "$work/tls.json" "$listen_a"; tls1=$(run "$listen_a"); stop_all
    start "$work/file.json" "$listen_a"; file=$(run "$listen_a"); stop_all
    start "$work/pg-a.json" "$listen_a"; pg1=$(run "$listen_a"); stop_all
    start "$work/tls.json" "$listen_a"; start "$work/tls.json" "$listen_b"; tls2=$(run "$listen_a" "$listen_b"); stop_all
    start "$work/pg-a.json" "$listen_a"; start "$work/pg-b.json" "$listen_b"; pg2=$(run "$listen_a" "$listen_b"); stop_all
    row "round $round: SQLite registry + file trail" "$file" "$tls1"
    row "round $round: PostgreSQL, one instance" "$pg1" "$tls1"
    row "round $round: PostgreSQL, two instances" "$pg2" "$tls2"
    all_tls1+=("$tls1") all_file+=("$file") all_pg1+=("$pg1") all_tls2+=("$tls2") all_pg2+=("$pg2")
done
row "median: SQLite registry + file trail" "$(median "${all_file[@]}")" "$(median "${all_tls1[@]}")"
row "median: PostgreSQL, one instance" "$(median "${all_pg1[@]}")" "$(median "${all_tls1[@]}")"
row "median: PostgreSQL, two instances" "$(median "${all_pg2[@]}")" "$(median "${all_tls2[@]}")"
config="$work/pg-a.json"
echo "trail: $("$bin" verify-audit --config "$config" | head -n 1)"
