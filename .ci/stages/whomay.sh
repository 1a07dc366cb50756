# == who may ask (issue #16) =====================================================================
# The example server with TLS client certificates, the SQLite request registry, the hash-chained
# audit trail and the rate limit, end to end: certificates made here with openssl (a CA, a
# server certificate for 127.0.0.1/localhost, operators alice and bob, and a foreign CA's
# certificate that also says CN=alice), curl with and without them, every 403 rule, 429 past
# the limit, verify-audit on the real log and on copies with one byte changed or a torn tail,
# then SIGKILL under load (tls_load, bounded) and a restart that continues the chain.
# Loopback only (WHOMAY_TLS_LISTEN, WHOMAY_PLAIN_LISTEN override the ports), its own temp dir,
# servers stopped by PID. `.ci/run whomay` runs this stage alone.
whomay_stage() {
    echo "== who may ask (TLS client certificates, registry, audit trail, rate limit)"
    local tls_listen="${WHOMAY_TLS_LISTEN:-127.0.0.1:18443}"
    local plain_listen="${WHOMAY_PLAIN_LISTEN:-127.0.0.1:18083}"
    local port="${tls_listen##*:}"
    local work
    work="$(mktemp -d "${TMPDIR:-/tmp}/whomay-stage.XXXXXX")"
    local started=$SECONDS
    cargo build --release --locked --manifest-path apps/server/Cargo.toml --bins
    local bin=target/release/cardadmin-server load=target/release/tls_load
    local passed=0 failed=0 pid=""
    trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"' EXIT
    ok() { echo "whomay: ok   $1"; passed=$((passed + 1)); }
    bad() { echo "whomay: FAIL $1"; failed=$((failed + 1)); }

    # -- certificates ------------------------------------------------------------------------
    local ossl="$work/openssl.log"
    pki() { # pki NAME CN CA-NAME EXTENSIONS
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/$1.key" \
            -out "$work/$1.csr" -subj "/CN=$2" 2>>"$ossl"
        printf '%b' "$4" >"$work/$1.ext"
        openssl x509 -req -in "$work/$1.csr" -CA "$work/$3.pem" -CAkey "$work/$3.key" \
            -CAcreateserial -out "$work/$1.pem" -days 2 -extfile "$work/$1.ext" 2>>"$ossl"
    }
    for ca in ca foreign-ca; do
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
            -keyout "$work/$ca.key" -out "$work/$ca.pem" -subj "/CN=cardadmin $ca" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>>"$ossl"
    done
    local client_ext='basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n'
    pki server localhost ca 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n'
    pki alice alice ca "$client_ext"
    pki bob bob ca "$client_ext"
    pki mallory alice foreign-ca "$client_ext"
    [ -s "$work/mallory.pem" ] && ok "openssl made a CA, a server certificate, alice, bob, and a foreign CA's 'alice'" \
        || { bad "openssl: $(cat "$ossl")"; return 1; }

    local req=a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099 scid=17cf063d-e337-4aa9-a822-346554ddd3c9
    local card=bc88f13f-83ba-4037-8262-46eba1291c6e
    local req2=0b7a4c2e-1111-4c9b-89d1-bbc0bcd5a099 scid2=2c1d0e3f-2222-4aa9-a822-346554ddd3c9
    local req3=3d2e1f40-3333-4c9b-89d1-bbc0bcd5a099
    local limit=6
    cat >"$work/config.json" <<JSON
{
  "initial_admin_key": "000000000000000000000000000000000000000000000000",
  "diversification_key": "DA20D81B7D17734F8166BE8BAC0EC94DD8E793D74ACEC8B7",
  "tls": {"cert": "$work/server.pem", "key": "$work/server.key", "client_ca": "$work/ca.pem"},
  "registry": "$work/registry.sqlite",
  "audit_log": "$work/audit.jsonl",
  "rate_limit_per_minute": $limit
}
JSON
    # -- the registry, from the same binary ------------------------------------------------
    "$bin" requests add --config "$work/config.json" --reqid "$req" --scid "$scid" --cardid "$card" --operator alice >/dev/null
    # bob's request, in another spelling of its GUIDs (compared as GUIDs, not text).
    "$bin" requests add --config "$work/config.json" --reqid "{${req2^^}}" --scid "${scid2//-/}" --cardid "$card" --operator bob >/dev/null
    "$bin" requests add --config "$work/config.json" --reqid "$req3" --scid "$scid" --cardid "$card" --operator alice >/dev/null
    "$bin" requests close --config "$work/config.json" --reqid "$req3" >/dev/null
    if "$bin" requests add --config "$work/config.json" --reqid "${req^^}" --scid "$scid" --cardid "$card" --operator bob 2>"$work/dup"; then
        bad "requests add accepted a request ID registered already"
    else
        ok "requests add refuses an ID registered already: $(cat "$work/dup")"
    fi
    "$bin" requests list --config "$work/config.json" >"$work/list.before"
    if [ "$(wc -l <"$work/list.before")" = 4 ] && grep -q "^$req2	$scid2	$card	bob	open$" "$work/list.before" \
        && grep -q "^$req3	$scid	$card	alice	closed$" "$work/list.before"; then
        ok "requests list: 3 requests, GUIDs normalised, one closed"
    else
        bad "requests list: $(cat "$work/list.before")"
    fi

    start_server() { # start_server CONFIG LISTEN OUT
        "$bin" --config "$1" --listen "$2" >"$3.stdout" 2>"$3.stderr" &
        pid=$!
        local waited=0 host="${2%:*}" p="${2##*:}"
        until (exec 3<>"/dev/tcp/$host/$p") 2>/dev/null; do
            if ! kill -0 "$pid" 2>/dev/null || [ "$waited" -ge 300 ]; then
                echo "whomay: server did not start on $2; its stderr:"; cat "$3.stderr"; return 1
            fi
            sleep 0.1; waited=$((waited + 1))
        done
    }
    start_server "$work/config.json" "$tls_listen" "$work/server" || { bad "server start"; return 1; }

    local base="https://$tls_listen/CertificateManagement/api/v1.0"
    local auth="authenticationresponse?cardid=$card&challenge=1hFD%2Bcz%2F0so%3D&diversified=False"
    local as_alice=(--cacert "$work/ca.pem" --cert "$work/alice.pem" --key "$work/alice.key")
    local as_bob=(--cacert "$work/ca.pem" --cert "$work/bob.pem" --key "$work/bob.key")
    local requests=0
    # check NAME STATUS BODY(exact, or ~regex) URL curl-options...
    check() {
        local name=$1 status=$2 body=$3 url=$4
        shift 4
        local got
        got="$(curl -sS -g -o "$work/body" -w '%{http_code}' "$@" "$url" 2>"$work/curl.err")" || true
        requests=$((requests + 1))
        local got_body
        got_body="$(cat "$work/body" 2>/dev/null)"
        local good=1
        [ "$got" = "$status" ] || good=0
        if [ "${body#\~}" != "$body" ]; then [[ "$got_body" =~ ${body#\~} ]] || good=0
        else [ "$got_body" = "$body" ] || good=0; fi
        if [ "$good" = 1 ]; then ok "$name: $status"
        else bad "$name: expected $status $body, got $got $got_body $(cat "$work/curl.err")"; fi
    }
    # refused NAME curl-options...: the handshake fails, no HTTP status at all.
    refused() {
        local name=$1
        shift
        local got code=0
        got="$(curl -sS -o /dev/null -w '%{http_code}' "$@" 2>"$work/curl.err")" || code=$?
        if [ "$code" != 0 ] && [ "$got" = 000 ]; then ok "$name: no HTTP answer (curl exit $code: $(head -c 120 "$work/curl.err"))"
        else bad "$name: curl exit $code, status $got"; fi
    }

    check "alice, her open request: the documented answer over TLS" 200 '"F0Zudm4wPLY="' \
        "https://localhost:$port/certificatemanagement/api/v1.0/requests/$req/smartcards/$scid/$auth" "${as_alice[@]}"
    check "alice over TLS 1.2" 200 '"F0Zudm4wPLY="' "$base/requests/$req/smartcards/$scid/$auth" "${as_alice[@]}" --tlsv1.2 --tls-max 1.2
    check "alice over TLS 1.3" 200 '"F0Zudm4wPLY="' "$base/requests/$req/smartcards/$scid/$auth" "${as_alice[@]}" --tlsv1.3
    refused "no client certificate" --cacert "$work/ca.pem" "$base/requests/$req/smartcards/$scid/$auth"
    refused "a foreign CA's certificate that says CN=alice" --cacert "$work/ca.pem" --cert "$work/mallory.pem" --key "$work/mallory.key" "$base/requests/$req/smartcards/$scid/$auth"
    refused "plain HTTP to the TLS port" "http://$tls_listen/CertificateManagement/api/v1.0/requests/$req/smartcards/$scid/$auth"
    check "bob asks for alice's request" 403 '{"Message":"forbidden: the caller is not the request'"'"'s operator"}' \
        "$base/requests/$req/smartcards/$scid/$auth" "${as_bob[@]}"
    check "alice, a closed request" 403 '{"Message":"forbidden: the request is closed"}' \
        "$base/requests/$req3/smartcards/$scid/$auth" "${as_alice[@]}"
    check "alice, a card ID that is not the request's" 403 '{"Message":"forbidden: the card ID is not the request'"'"'s"}' \
        "$base/requests/$req/smartcards/$scid/diversifiedkey?cardid=00000000-0000-0000-0000-000000000001" "${as_alice[@]}"
    check "alice, a smart card ID that is not the request's" 403 '{"Message":"forbidden: the smart card ID is not the request'"'"'s"}' \
        "$base/requests/$req/smartcards/$scid2/diversifiedkey?cardid=$card" "${as_alice[@]}"
    check "alice, an unknown request" 403 '{"Message":"forbidden: the request is not registered"}' \
        "$base/requests/00000000-0000-0000-0000-00000000beef/smartcards/$scid/diversifiedkey?cardid=$card" "${as_alice[@]}"
    check "alice, her request in upper case and braces (GUIDs compared as GUIDs)" 200 '~^"[A-Za-z0-9+/]{32}"$' \
        "$base/requests/%7B${req^^}%7D/smartcards/${scid^^}/diversifiedkey?cardid=${card^^}" "${as_alice[@]}"
    check "serverproposedpin: alice has an open request for the card" 200 '~^"[0-9]{8}"$' \
        "$base/smartcards/$scid/serverproposedpin" "${as_alice[@]}"
    check "serverproposedpin: bob has none for it" 403 '{"Message":"forbidden: the caller has no open request for this smart card"}' \
        "$base/smartcards/$scid/serverproposedpin" "${as_bob[@]}"
    check "a malformed request is still a 400" 400 '~^\{"Message":"cardid: ' \
        "$base/requests/$req/smartcards/$scid/diversifiedkey?cardid=nope" "${as_alice[@]}"
    # Rate limit: bob has used no key yet (403s do not count).
    local i
    for i in $(seq 1 "$limit"); do
        check "bob's key use $i of $limit" 200 '~^"[A-Za-z0-9+/]{32}"$' \
            "$base/requests/$req2/smartcards/$scid2/diversifiedkey?cardid=$card" "${as_bob[@]}"
    done
    check "bob past the limit" 429 "{\"Message\":\"rate limited: more than $limit key uses in a minute by this caller; try again later\"}" \
        "$base/requests/$req2/smartcards/$scid2/diversifiedkey?cardid=$card" "${as_bob[@]}"
    # (the refused handshakes above reached no HTTP layer: `refused` does not count them)
    local http_requests=$requests

    # -- the audit trail ----------------------------------------------------------------------
    local audit="$work/audit.jsonl"
    if "$bin" verify-audit "$audit" >"$work/verify.out" 2>&1; then ok "verify-audit: $(cat "$work/verify.out")"
    else bad "verify-audit on the live log: $(cat "$work/verify.out")"; fi
    [ "$(wc -l <"$audit")" = "$http_requests" ] && ok "one audit line per request ($http_requests)" \
        || bad "$(wc -l <"$audit") audit lines for $http_requests requests"
    if head -1 "$audit" | grep -q '"operator":"alice","endpoint":"authenticationresponse","reqid":"'"$req"'","scid":"'"$scid"'","cardid":"'"$card"'","diversified":false,"key_role":"initial_key","key_check_value":"8CA64D","status":200,"message":null,"prev":"0000000000000000000000000000000000000000000000000000000000000000"}$'; then
        ok "the first line: operator, endpoint, IDs, key role, check value, status, prev = 64 zeros"
    else bad "first audit line: $(head -1 "$audit")"; fi
    grep -q '"operator":"bob".*"status":403,"message":"forbidden: the caller is not the request'"'"'s operator"' "$audit" \
        && ok "a 403 is on the trail with its rule" || bad "no 403 line for bob"
    grep -q '"status":429' "$audit" && grep -q '"status":400' "$audit" \
        && ok "429 and 400 are on the trail" || bad "429/400 missing from the trail"
    if grep -q -e 'F0Zudm4wPLY' -e '"[0-9]\{8\}"' -e '1hFD' "$audit"; then bad "the trail holds a response, a PIN or a challenge"
    else ok "the trail holds no response, PIN or challenge"; fi
    # One byte changed in the first 403 line ("status":403 -> 402): verify-audit names it.
    local line403
    line403="$(grep -n '"status":403' "$audit" | head -1 | cut -d: -f1)"
    cp "$audit" "$work/tampered.jsonl"
    sed -i "${line403}s/\"status\":403/\"status\":402/" "$work/tampered.jsonl"
    [ "$(cmp "$audit" "$work/tampered.jsonl" | wc -l)" = 1 ] || bad "the copy does not differ in one place"
    local code=0
    "$bin" verify-audit "$work/tampered.jsonl" >"$work/verify.out" 2>&1 || code=$?
    if [ "$code" != 0 ] && grep -q "broken at line $line403: " "$work/verify.out"; then ok "one byte changed in line $line403: verify-audit exits $code, $(cat "$work/verify.out")"
    else bad "tampered log (line $line403 changed): exit $code, $(cat "$work/verify.out")"; fi
    # The same for the first line's prev (a line removed at the start reads the same way).
    cp "$audit" "$work/tampered.jsonl"
    sed -i '1s/"prev":"0/"prev":"1/' "$work/tampered.jsonl"
    code=0
    "$bin" verify-audit "$work/tampered.jsonl" >"$work/verify.out" 2>&1 || code=$?
    if [ "$code" != 0 ] && grep -q "broken at line 1: " "$work/verify.out"; then ok "one byte changed in line 1's prev: $(cat "$work/verify.out")"
    else bad "line 1's prev changed: exit $code, $(cat "$work/verify.out")"; fi
    # A torn last line (cut mid-line, no newline).
    head -c -40 "$audit" >"$work/torn.jsonl"
    code=0
    "$bin" verify-audit "$work/torn.jsonl" >"$work/verify.out" 2>&1 || code=$?
    if [ "$code" != 0 ] && grep -q "broken at line $http_requests: torn" "$work/verify.out"; then ok "a torn last line is reported: $(cat "$work/verify.out")"
    else bad "torn log: exit $code, $(cat "$work/verify.out")"; fi

    # -- SIGKILL under load, then a restart -------------------------------------------------------
    # A second config without the rate limit, on the same registry and trail.
    grep -v rate_limit_per_minute "$work/config.json" | sed 's/"audit_log": "\([^"]*\)",/"audit_log": "\1"/' >"$work/load.json"
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=""
    start_server "$work/load.json" "$tls_listen" "$work/load" || { bad "server restart for load"; return 1; }
    "$load" --url "$base/requests/$req/smartcards/$scid/authenticationresponse?cardid=$card&challenge=1hFD%2Bcz%2F0so%3D&diversified=true" \
        --ca "$work/ca.pem" --cert "$work/alice.pem" --key "$work/alice.key" --connections 8 --seconds 4 >"$work/load.out" 2>&1 &
    local load_pid=$!
    sleep 2
    kill -9 "$pid"; wait "$pid" 2>/dev/null || true; pid=""
    wait "$load_pid" || true
    ok "SIGKILL under load: $(cat "$work/load.out")"
    "$bin" requests list --config "$work/config.json" >"$work/list.after"
    cmp -s "$work/list.before" "$work/list.after" && ok "the registry is intact after SIGKILL" \
        || bad "registry after SIGKILL: $(cat "$work/list.after")"
    code=0
    "$bin" verify-audit "$audit" >"$work/verify.out" 2>&1 || code=$?
    if [ "$code" = 0 ]; then ok "after SIGKILL: $(cat "$work/verify.out")"
    elif grep -q ': torn:' "$work/verify.out"; then ok "after SIGKILL a torn last line is reported (exit $code): $(cat "$work/verify.out")"
    else bad "after SIGKILL: exit $code, $(cat "$work/verify.out")"; fi
    local killed_lines head
    killed_lines="$(wc -l <"$audit")"
    head="$(sed -n 's/.*head \([0-9a-f]\{64\}\)$/\1/p' "$work/verify.out")"
    if [ "$code" = 0 ]; then
        start_server "$work/config.json" "$tls_listen" "$work/restart" || { bad "restart after SIGKILL"; return 1; }
        grep -q "lines, chain verified, head $head" "$work/restart.stderr" \
            && ok "the restarted server continues the chain from line $killed_lines" || bad "restart: $(cat "$work/restart.stderr")"
        check "alice after the restart" 200 '"F0Zudm4wPLY="' "$base/requests/$req/smartcards/$scid/$auth" "${as_alice[@]}"
        kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=""
        [ "$(sed -n "$((killed_lines + 1))p" "$audit" | sed 's/.*"prev":"\([0-9a-f]*\)"}$/\1/')" = "$head" ] \
            && ok "the first line after the restart carries the old head as prev" || bad "prev after restart"
        "$bin" verify-audit "$audit" >"$work/verify.out" 2>&1 && ok "after the restart: $(cat "$work/verify.out")" \
            || bad "after the restart: $(cat "$work/verify.out")"
    fi
    # A server never continues a torn trail: it names the line and stops.
    cp "$work/torn.jsonl" "$work/torn-start.jsonl"
    sed "s#$work/audit.jsonl#$work/torn-start.jsonl#" "$work/config.json" >"$work/torn.json"
    code=0
    timeout 20 "$bin" --config "$work/torn.json" --listen "$tls_listen" >/dev/null 2>"$work/torn.err" || code=$?
    if [ "$code" = 1 ] && grep -q "line $http_requests: torn" "$work/torn.err"; then ok "start-up on a torn trail stops: $(grep -m1 '^error' "$work/torn.err" | head -c 200)"
    else bad "start-up on a torn trail: exit $code, $(cat "$work/torn.err")"; fi

    # -- an audit trail that cannot be written: 500, and no key answers ---------------------------
    # The server runs with a 2 KiB file size limit (SIGXFSZ ignored, so a write past it fails
    # with EFBIG): a few lines fit, then the writer fails. From the first 500 on, no answer may
    # carry a key, and the trail ends in the torn line of the failed write.
    sed -e '/"registry"/d' -e '/rate_limit_per_minute/d' -e 's/"audit_log": "\([^"]*\)",/"audit_log": "\1"/' \
        -e "s#$work/audit.jsonl#$work/full.jsonl#" "$work/config.json" >"$work/full.json"
    (trap '' XFSZ; ulimit -f 2; exec "$bin" --config "$work/full.json" --listen "$tls_listen" >/dev/null 2>"$work/full.stderr") &
    pid=$!
    local waited=0
    until (exec 3<>"/dev/tcp/${tls_listen%:*}/$port") 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 300 ] || { bad "server with a 2 KiB file limit did not start: $(cat "$work/full.stderr")"; break; }
        sleep 0.1; waited=$((waited + 1))
    done
    local statuses="" first500=0 leaked=0
    for i in $(seq 1 12); do
        local got
        got="$(curl -sS -o "$work/body" -w '%{http_code}' "${as_alice[@]}" "$base/requests/$req/smartcards/$scid/$auth" 2>/dev/null)" || true
        statuses="$statuses $got"
        if [ "$got" = 500 ]; then
            [ "$first500" = 0 ] && first500=$i
            grep -q '"audit: the audit trail could not be written, so no key was used' "$work/body" || leaked=1
        fi
        [ "$first500" != 0 ] && [ "$got" = 200 ] && leaked=1
        grep -q 'F0Zudm4wPLY' "$work/body" && [ "$got" != 200 ] && leaked=1
    done
    kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; pid=""
    code=0
    "$bin" verify-audit "$work/full.jsonl" >"$work/verify.out" 2>&1 || code=$?
    local full_lines
    full_lines="$(wc -l <"$work/full.jsonl")"
    if [ "$first500" -gt 1 ] && [ "$leaked" = 0 ] && [ "$(grep -o ' 200' <<<"$statuses" | wc -l)" = "$full_lines" ] \
        && [ "$code" != 0 ] && grep -q ': torn:' "$work/verify.out"; then
        ok "audit trail full: statuses$statuses; $full_lines answers with a key, one per line on disk, then 500 without a key; $(cat "$work/verify.out")"
    else
        bad "audit trail full: statuses$statuses, first 500 at $first500, leaked $leaked, $full_lines lines, verify exit $code: $(cat "$work/verify.out")"
    fi

    # -- plain HTTP: loopback only, the README's request unchanged --------------------------------
    printf '{"initial_admin_key": "000000000000000000000000000000000000000000000000", "diversification_key": "DA20D81B7D17734F8166BE8BAC0EC94DD8E793D74ACEC8B7"}\n' >"$work/plain.json"
    code=0
    timeout 20 "$bin" --config "$work/plain.json" --listen "0.0.0.0:${plain_listen##*:}" >/dev/null 2>"$work/plain.err" || code=$?
    if [ "$code" = 1 ] && grep -q 'refusing to serve plain HTTP on 0.0.0.0:.*loopback' "$work/plain.err"; then ok "plain HTTP on 0.0.0.0 refused: $(grep -m1 '^error' "$work/plain.err" | head -c 200)"
    else bad "plain HTTP on 0.0.0.0: exit $code, $(cat "$work/plain.err")"; fi
    printf '{"initial_admin_key": "000000000000000000000000000000000000000000000000", "registry": "%s"}\n' "$work/registry.sqlite" >"$work/plain-registry.json"
    code=0
    timeout 20 "$bin" --config "$work/plain-registry.json" --listen "$plain_listen" >/dev/null 2>"$work/plain.err" || code=$?
    if [ "$code" = 1 ] && grep -q '"registry" needs "tls"' "$work/plain.err"; then ok "a registry without TLS refused"
    else bad "registry without tls: exit $code, $(cat "$work/plain.err")"; fi
    start_server "$work/plain.json" "$plain_listen" "$work/plain" || { bad "plain start"; return 1; }
    check "plain HTTP on loopback: the README's request" 200 '"F0Zudm4wPLY="' \
        "http://$plain_listen/certificatemanagement/api/v1.0/requests/$req/smartcards/$scid/$auth"
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=""
    grep -q 'warning: no "registry" in the configuration' "$work/plain.stderr" \
        && ok "without a registry the server says so at start-up" || bad "no registry warning: $(cat "$work/plain.stderr")"

    trap - EXIT
    rm -rf "$work"
    echo "whomay: $passed passed, $failed failed; $((SECONDS - started))s"
    [ "$failed" = 0 ]
}
