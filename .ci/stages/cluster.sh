# == several instances on one PostgreSQL database (issue #23) ===================================
# A throwaway PostgreSQL cluster (Debian's `postgresql`: initdb as user postgres in a temporary
# directory, pg_ctl on 127.0.0.1, stopped by its PID), then:
#   1. the server's PostgreSQL integration tests against it (apps/server/tests/postgres.rs, and
#      lifecycle.rs for issue #25's master versions on the database, with
#      CARDADMIN_REQUIRE_DATABASE=1 so that none is skipped);
#   2. two server instances (nodes a and b) with TLS and client certificates on one database:
#      a request added with `requests add --config`, answered by both; the rate limit counted
#      across them (429 from b after three uses, two through a); someone without a request 403;
#   3. under load on both (tls_load): a SIGKILLed, b keeps answering 200 only; a restarted
#      continues its chain;
#   4. under load on b: the database stopped (503 with a JSON message, no other status) and
#      started again (200, without restarting b);
#   5. `verify-audit --config` at the end: every chain intact; every 200 the load clients got has
#      its record; one audit row changed in the database is caught, naming its node and seq.
# Ports: CLUSTER_PG_PORT (19832) for PostgreSQL, CLUSTER_PORT_A/B (19851/19852) for the servers;
# the tests use 19840-19850. Every process is stopped by its PID. `.ci/run cluster` runs it alone.
cluster_stage() {
    echo "== several instances on PostgreSQL (registry, audit chains, cluster-wide rate limit, faults)"
    local started=$SECONDS
    ci_workdir
    local pg_port="${CLUSTER_PG_PORT:-19832}" port_a="${CLUSTER_PORT_A:-19851}" port_b="${CLUSTER_PORT_B:-19852}"
    local bindir
    bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
        fail "PostgreSQL's initdb not found under /usr/lib/postgresql/*/bin (Debian's postgresql package)"
        ci_summary
        return 1
    fi
    # As root (CI), the cluster belongs to user postgres; a developer runs it as themselves.
    as_pg() {
        if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
    }
    local pg="$CI_WORK/pg" w="$CI_WORK"
    chmod 755 "$CI_WORK"
    mkdir "$pg"
    [ "$(id -u)" = 0 ] && chown postgres "$pg"
    as_pg "$bindir/initdb" -D "$pg/data" -A trust -U postgres >"$w/initdb.log" 2>&1 ||
        { fail "initdb" "$w/initdb.log"; ci_summary; return 1; }
    pg_pid=""
    start_pg() {
        as_pg "$bindir/pg_ctl" -D "$pg/data" -l "$pg/log" -w \
            -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg" start >"$w/pg_ctl.log" 2>&1
        pg_pid="$(head -n 1 "$pg/data/postmaster.pid")"
    }
    # Fast shutdown (SIGINT to the postmaster), then wait until it is gone.
    stop_pg() {
        [ -n "$pg_pid" ] || return 0
        kill -INT "$pg_pid" 2>/dev/null || true
        wait_for 300 "" eval '! kill -0 '"$pg_pid"' 2>/dev/null' || kill -KILL "$pg_pid" 2>/dev/null || true
        pg_pid=""
    }
    ci_on_exit 'stop_pg'
    start_pg || { fail "pg_ctl start" "$pg/log"; ci_summary; return 1; }
    ok "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port, postmaster PID $pg_pid"
    local base="postgresql://postgres@127.0.0.1:$pg_port"
    psqlc() { psql "$base/$1" -v ON_ERROR_STOP=1 -Atqc "$2"; }

    # 1. The Rust tests.
    if CARDADMIN_TEST_DATABASE_URL="$base/postgres" CARDADMIN_REQUIRE_DATABASE=1 \
        cargo test --locked -p cardadmin-server --test postgres --test lifecycle >"$w/tests.log" 2>&1; then
        ok "apps/server/tests/postgres.rs and lifecycle.rs: $(grep -E '^test result' "$w/tests.log" | tr '\n' ' ')"
    else
        fail "apps/server/tests/postgres.rs and lifecycle.rs" "$w/tests.log"
    fi
    cargo build --locked -p cardadmin-server --bins >"$w/build.log" 2>&1 || { fail "build" "$w/build.log"; ci_summary; return 1; }
    local bin="$PWD/target/debug/cardadmin-server" load="$PWD/target/debug/tls_load"

    # 2. Two instances.
    psqlc postgres "CREATE DATABASE cluster"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -keyout "$w/ca.key" \
        -out "$w/ca.pem" -subj "/CN=cluster CA" -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    leaf() { # leaf NAME EXTENSIONS
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$w/$1.key" \
            -out "$w/$1.csr" -subj "/CN=$1" 2>/dev/null
        printf '%b' "$2" >"$w/$1.ext"
        openssl x509 -req -in "$w/$1.csr" -CA "$w/ca.pem" -CAkey "$w/ca.key" -CAcreateserial \
            -out "$w/$1.pem" -days 2 -extfile "$w/$1.ext" 2>/dev/null
    }
    leaf server 'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n'
    leaf alice 'keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n'
    leaf bob 'keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n'
    conf() { # conf NODE EXTRA-FIELDS
        printf '{"initial_admin_key": "000000000000000000000000000000000000000000000000", "diversification_key": "5C1E8A3F7D2B9046E1A7C3F5082D4B6978F1A2C3D4E5F607", "tls": {"cert": "%s", "key": "%s", "client_ca": "%s"}, "database": "%s", "node_id": "%s"%s}\n' \
            "$w/server.pem" "$w/server.key" "$w/ca.pem" "$base/cluster" "$1" "$2" >"$w/$1.json"
    }
    local req=a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099 scid=17cf063d-e337-4aa9-a822-346554ddd3c9 card=bc88f13f-83ba-4037-8262-46eba1291c6e
    local path="/CertificateManagement/api/v1.0/requests/$req/smartcards/$scid/authenticationresponse?cardid=$card&challenge=1hFD%2Bcz%2F0so%3D&diversified=False"
    conf a ', "rate_limit_per_minute": 3'
    conf b ', "rate_limit_per_minute": 3'
    expect "requests add --config (the database's registry)" "^added $req" \
        "$bin" requests add --config "$w/a.json" --reqid $req --scid $scid --cardid $card --operator alice
    expect "requests list --config through node b's configuration" "$req.*alice.*open" \
        "$bin" requests list --config "$w/b.json"
    pid_a="" pid_b=""
    start() { # start NODE PORT: sets pid_NODE
        "$bin" --config "$w/$1.json" --listen "127.0.0.1:$2" >"$w/$1.out" 2>>"$w/$1.err" &
        eval "pid_$1=$!"
        wait_port 127.0.0.1 "$2" "$(eval echo "\$pid_$1")" || { fail "node $1 did not start" "$w/$1.err"; return 1; }
    }
    ci_on_exit '[ -n "$pid_a" ] && kill -KILL "$pid_a" 2>/dev/null; [ -n "$pid_b" ] && kill -KILL "$pid_b" 2>/dev/null; true'
    get() { # get PORT OPERATOR: "STATUS BODY"
        curl -s --max-time 20 --cacert "$w/ca.pem" --cert "$w/$2.pem" --key "$w/$2.key" \
            -w ' %{http_code}' "https://127.0.0.1:$1$path"
    }
    start a "$port_a"
    start b "$port_b"
    local answers=""
    answers="$(get "$port_a" alice | awk '{print $NF}') $(get "$port_b" alice | awk '{print $NF}') $(get "$port_a" alice | awk '{print $NF}') $(get "$port_b" alice | awk '{print $NF}')"
    expect_eq "both instances answer; the fourth use in a minute, through b, is 429 (the limit is the cluster's)" "200 200 200 429" "$answers"
    local extra=3
    expect_eq "someone without a request: 403 from either" "403 403" "$(get "$port_a" bob | awk '{print $NF}') $(get "$port_b" bob | awk '{print $NF}')"
    stop_pid "$pid_a"; expect_eq "node a stops on SIGTERM" 0 "$stopped_code"
    stop_pid "$pid_b"; expect_eq "node b stops on SIGTERM" 0 "$stopped_code"
    pid_a="" pid_b=""

    # 3. SIGKILL under load (no rate limit now).
    conf a ''
    conf b ''
    start a "$port_a"
    start b "$port_b"
    local certs=(--ca "$w/ca.pem" --cert "$w/alice.pem" --key "$w/alice.key")
    "$load" --url "https://127.0.0.1:$port_a$path" --connections 4 --seconds 6 "${certs[@]}" >"$w/load_a1" 2>&1 &
    local load_a=$!
    "$load" --url "https://127.0.0.1:$port_b$path" --connections 4 --seconds 6 "${certs[@]}" >"$w/load_b1" 2>&1 &
    local load_b=$!
    sleep 2
    kill -KILL "$pid_a"
    wait "$pid_a" 2>/dev/null || true
    pid_a=""
    ok "node a killed (SIGKILL) under load"
    sleep 1
    start a "$port_a"
    wait "$load_a" || true
    wait "$load_b" || true
    if grep -Eq 'statuses \{200: [0-9]+\}; connection errors 0' "$w/load_b1"; then
        ok "node b kept answering 200, and nothing else, while a was killed: $(grep -Eo '[0-9]+ requests/s' "$w/load_b1")"
    else
        fail "node b under load while a was killed" "$w/load_b1"
    fi
    expect "node a restarted continues its chain" "node a: [1-9][0-9]* records before this start" cat "$w/a.err"

    # 4. The database stopped and started under load on b.
    "$load" --url "https://127.0.0.1:$port_b$path" --connections 4 --seconds 8 "${certs[@]}" >"$w/load_b2" 2>&1 &
    load_b=$!
    sleep 2
    stop_pg
    sleep 1
    local down
    down="$(get "$port_b" alice)"
    if [[ "$down" == *'"Message":"database: '*' 503' ]]; then
        ok "database stopped: 503 with a JSON message, no key"
    else
        fail "database stopped: expected 503 with a JSON message, got: $down"
    fi
    sleep 1
    start_pg || fail "pg_ctl start again" "$pg/log"
    wait "$load_b" || true
    if grep -Eq 'statuses \{200: [0-9]+, 503: [0-9]+\}' "$w/load_b2"; then
        ok "under load: 200, then 503 while the database was down, then 200 again: $(grep -Eo 'statuses \{[^}]*\}' "$w/load_b2")"
    else
        fail "node b under load while the database stopped and started" "$w/load_b2"
    fi
    local again=""
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        again="$(get "$port_b" alice | awk '{print $NF}')"
        [ "$again" = 200 ] && break
        sleep 0.5
    done
    expect_eq "node b answers 200 again without a restart" 200 "$again"
    extra=$((extra + 1))
    stop_pid "$pid_a"; expect_eq "node a stops on SIGTERM" 0 "$stopped_code"
    stop_pid "$pid_b"; expect_eq "node b stops on SIGTERM" 0 "$stopped_code"
    pid_a="" pid_b=""

    # 5. The trail.
    expect "verify-audit --config: every node's chain and the checkpoints" "records in 3 nodes checked, every chain intact" \
        "$bin" verify-audit --config "$w/a.json"
    local answered recorded
    answered=$(cat "$w/load_a1" "$w/load_b1" "$w/load_b2" | grep -Eo '\{200: [0-9]+' | awk -v extra="$extra" '{s += $2} END {print s + extra}')
    recorded=$(psqlc cluster "SELECT count(*) FROM audit WHERE line::json->>'status' = '200'")
    if [ "$recorded" -ge "$answered" ]; then
        ok "every 200 has its record: $answered answered 200, $recorded records of status 200"
    else
        fail "$answered answered 200, only $recorded records of status 200"
    fi
    local seq
    seq=$(psqlc cluster "SELECT min(seq) FROM audit WHERE node_id = 'b' AND line::json->>'status' = '200'")
    psqlc cluster "UPDATE audit SET line = replace(line, '\"status\":200', '\"status\":403') WHERE node_id = 'b' AND seq = $seq"
    refuse "a changed audit row is caught" "broken at node b seq $seq" "$bin" verify-audit --config "$w/a.json"
    stop_pg
    echo "cluster: $((SECONDS - started))s"
    ci_summary
}
