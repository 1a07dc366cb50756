# == example server (issue #9) ===================================================================
# Builds apps/server and starts it exactly as the README says (SERVER_LISTEN overrides the
# address, for a machine where 8080 is taken), waits for the port, sends the documented MIM CM
# request and bad ones with curl, checks statuses, content types and bodies exactly, then
# stops the server by its PID (`cargo run` execs the server on Unix, so $! is the server);
# a trap stops it when a check fails too. `.ci/run server` runs this stage alone.
server_stage() {
    echo "== example server"
    local listen="${SERVER_LISTEN:-127.0.0.1:8080}"
    local host="${listen%:*}" port="${listen##*:}"
    local work
    work="$(mktemp -d)"
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
        echo "server: something already listens on $listen; set SERVER_LISTEN to a free address"
        return 1
    fi
    local started=$SECONDS
    cargo build --release --locked --manifest-path apps/server/Cargo.toml
    echo "server: release build took $((SECONDS - started))s"
    # The README's command, word for word (the build above already checked the lock file).
    cargo run --release --manifest-path apps/server/Cargo.toml -- --config apps/server/config.example.json --listen "$listen" \
        >"$work/stdout" 2>"$work/stderr" &
    server_pid=$!
    trap 'kill "$server_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
    local waited=0
    until (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; do
        if ! kill -0 "$server_pid" 2>/dev/null || [ "$waited" -ge 300 ]; then
            echo "server: did not start listening on $listen; its stderr:"
            cat "$work/stderr"
            return 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done

    local base="http://$listen/CertificateManagement/api/v1.0"
    local req="requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9"
    local card="cardid=bc88f13f-83ba-4037-8262-46eba1291c6e"
    local json="application/json; charset=utf-8"
    local requests=0 failures=0
    # check NAME STATUS CONTENT_TYPE BODY URL [curl options]: BODY is exact, or a regex after ~
    check() {
        local name=$1 status=$2 type=$3 body=$4 url=$5
        shift 5
        local got
        got="$(curl -sS -g -o "$work/body" -w '%{http_code} %{content_type}' "$@" "$url")"
        requests=$((requests + 1))
        local got_body
        got_body="$(cat "$work/body")"
        local ok=1
        [ "$got" = "$status $type" ] || ok=0
        if [ "${body#\~}" != "$body" ]; then
            [[ "$got_body" =~ ${body#\~} ]] || ok=0
        else
            [ "$got_body" = "$body" ] || ok=0
        fi
        if [ "$ok" = 1 ]; then
            echo "server: ok   $name: $status"
        else
            echo "server: FAIL $name: expected '$status $type' $body"
            echo "server:        got '$got' $got_body"
            failures=$((failures + 1))
        fi
    }
    check "documented authenticationresponse" 200 "$json" '"F0Zudm4wPLY="' \
        "http://$listen/certificatemanagement/api/v1.0/$req/authenticationresponse?$card&challenge=1hFD%2Bcz%2F0so%3D&diversified=False"
    check "routes and keys without regard to case" 200 "$json" '"F0Zudm4wPLY="' \
        "http://$listen/CERTIFICATEMANAGEMENT/API/V1.0/${req^^}/AuthenticationResponse?CardId=bc88f13f-83ba-4037-8262-46eba1291c6e&CHALLENGE=1hFD%2Bcz%2F0so%3D&Diversified=%20FALSE%20"
    # The diversified answers come from config.example.json's diversification_key, never from
    # the initial key; tests/example_server_config.rs derives the same two values from that file.
    check "diversified=True" 200 "$json" '"nShsDNCU0Oo="' \
        "$base/$req/authenticationresponse?cardid=(bc88f13f-83ba-4037-8262-46eba1291c6e)&challenge=1hFD%2Bcz%2F0so%3D&diversified=true&atr=3b8f8001"
    check "diversifiedkey" 200 "$json" '"V0DmxxmJoeCdf7wqrnxKpypbRg3QQCxk"' \
        "$base/$req/diversifiedkey?$card"
    check "serverproposedpin, MIM's example without a query" 200 "$json" '~^"[0-9]{8}"$' \
        "$base/smartcards/C6BAD97C-F97F-4920-8947-BE980C98C6B5/serverproposedpin"
    check "'+' left unencoded" 400 "$json" \
        '{"Message":"challenge: '"'+'"' at position 4 was not percent-encoded, and in a query string '"'+'"' means a space; send it as %2B","Parameter":"challenge"}' \
        "$base/$req/authenticationresponse?$card&challenge=1hFD+cz/0so=&diversified=False"
    check "diversified not a Boolean" 400 "$json" \
        '{"Message":"diversified: must be True or False (any case, as .NET Boolean.Parse reads it), got 3 characters of something else","Parameter":"diversified"}' \
        "$base/$req/authenticationresponse?$card&challenge=1hFD%2Bcz%2F0so%3D&diversified=yes"
    check "cardid missing" 400 "$json" \
        '{"Message":"cardid: required query parameter is missing","Parameter":"cardid"}' \
        "$base/$req/diversifiedkey"
    check "cardid given twice" 400 "$json" \
        '{"Message":"cardid: query parameter given more than once (names are compared without regard to case); send it once","Parameter":"cardid"}' \
        "$base/$req/diversifiedkey?$card&CARDID=bc88f13f-83ba-4037-8262-46eba1291c6e"
    check "NUL byte" 400 "$json" \
        '{"Message":"cardid: the percent-decoded value holds a NUL character","Parameter":"cardid"}' \
        "$base/$req/diversifiedkey?cardid=%00"
    check "invalid UTF-8" 400 "$json" \
        '{"Message":"cardid: the percent-decoded bytes are not UTF-8","Parameter":"cardid"}' \
        "$base/$req/diversifiedkey?cardid=%FF%FE"
    check "bad path GUID" 400 "$json" \
        '{"Message":"id: GUID must be 32 (bare hex), 36 (hyphenated) or 38 (hyphenated, in '"'{}'"' or '"'()'"') characters long, got 4","Parameter":"id"}' \
        "$base/smartcards/C6BA/serverproposedpin"
    check "unknown route" 404 "$json" '~^\{"Message":"request target: no MIM CM endpoint here; ' \
        "$base/smartcards"
    check "absurdly long target" 414 "$json" \
        '{"Message":"request target: 5148 bytes long, over the limit of 4096"}' \
        "$base/$req/diversifiedkey?cardid=$(printf 'a%.0s' $(seq 5000))"
    check "POST" 405 "$json" \
        '{"Message":"method POST is not allowed: the MIM CM endpoints answer GET"}' \
        "$base/$req/diversifiedkey?$card" -X POST

    # HEAD (issue #14): the headers a GET gets, Content-Length included, and no body; for an
    # answer, an error and a 405. The GET's length is the size of the body curl received; the
    # absence of a body is read on a raw connection (curl would wait for Content-Length bytes).
    head_check() {
        local name=$1 path=$2 get_status get_length head_status head_length body_after
        local url="http://$listen$path"
        read -r get_status get_length < <(curl -sS -g -o /dev/null -w '%{http_code} %{size_download}\n' "$url")
        head_status="$(curl -sS -g -I -o "$work/head" -w '%{http_code}' "$url")"
        head_length="$(tr -d '\r' <"$work/head" | sed -n 's/^content-length: *//Ip')"
        timeout 10 bash -c 'exec 3<>"/dev/tcp/$1/$2"; printf "HEAD %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" "$3" "$1:$2" >&3; cat <&3' \
            _ "$host" "$port" "$path" >"$work/raw" || true
        body_after="$(sed -n '/^\r$/,$p' "$work/raw" | tail -n +2 | wc -c)"
        requests=$((requests + 3))
        if [ "$head_status" = "$get_status" ] && [ "$head_length" = "$get_length" ] && [ "$get_length" -gt 0 ] \
            && [ "$body_after" = 0 ] && grep -q '^HTTP/1.1 ' "$work/raw"; then
            echo "server: ok   HEAD $name: $head_status, content-length $head_length as GET, no body"
        else
            echo "server: FAIL HEAD $name: GET $get_status with $get_length bytes, HEAD $head_status with content-length '${head_length}' and $body_after bytes after the headers"
            failures=$((failures + 1))
        fi
    }
    local prefix="/CertificateManagement/api/v1.0"
    head_check "diversifiedkey" "$prefix/$req/diversifiedkey?$card"
    head_check "serverproposedpin" "$prefix/smartcards/C6BAD97C-F97F-4920-8947-BE980C98C6B5/serverproposedpin"
    head_check "bad path GUID (400)" "$prefix/smartcards/C6BA/serverproposedpin"

    kill -TERM "$server_pid"
    local code=0
    wait "$server_pid" || code=$?
    trap - EXIT
    local lines
    lines="$(wc -l <"$work/stdout")"
    if [ "$code" != 0 ]; then
        echo "server: FAIL exited with $code after SIGTERM"
        failures=$((failures + 1))
    fi
    if [ "$lines" != "$requests" ]; then
        echo "server: FAIL $lines log lines for $requests requests"
        failures=$((failures + 1))
    fi
    if grep -q -e '?' -e 'V0DmxxmJoeCd' -e 'DA20D81B7D17' -e '"[0-9]\{8\}"' "$work/stdout" "$work/stderr"; then
        echo "server: FAIL the log holds a query, a key or a PIN"
        failures=$((failures + 1))
    fi
    if ! grep -q '^warning: the initial admin key (check value 8CA64D) is weak or well known' "$work/stderr"; then
        echo "server: FAIL no start-up warning about the all-zero key"
        failures=$((failures + 1))
    fi
    if grep -q '^warning: the diversification key' "$work/stderr"; then
        echo "server: FAIL the example's diversification key is not audited clean"
        failures=$((failures + 1))
    fi

    # Configurations the server must refuse at start-up, with a message that says why (issue
    # #15): an old one-key file, and the same key in both roles (parity bits aside).
    # refuse NAME CONFIG_JSON EXPECTED_STDERR_SUBSTRING
    refuse() {
        local name=$1 config=$2 expected=$3 code=0
        printf '%s\n' "$config" >"$work/refused.json"
        timeout 30 target/release/cardadmin-server --config "$work/refused.json" --listen "$listen" \
            >"$work/refused.out" 2>"$work/refused.err" || code=$?
        if [ "$code" != 0 ] && grep -qF -- "$expected" "$work/refused.err"; then
            echo "server: ok   refuses $name: exit $code"
        else
            echo "server: FAIL refuses $name: exit $code, stderr:"
            cat "$work/refused.err"
            failures=$((failures + 1))
        fi
    }
    refuse "an old admin_key file" \
        '{"admin_key": "000000000000000000000000000000000000000000000000", "diversify_keys": true}' \
        'Write "initial_admin_key" (the key blank cards ship with; it answers diversified=false) and "diversification_key"'
    refuse "the same key in both roles" \
        '{"initial_admin_key": "DA20D81B7D17734F8166BE8BAC0EC94DD8E793D74ACEC8B7", "diversification_key": "DB21D91A7C16724E8067BF8AAD0FC84CD9E692D64BCFC9B6"}' \
        'the initial admin key and the diversification key are the same key'
    refuse "a diversification key in an unknown form" \
        '{"initial_admin_key": "000000000000000000000000000000000000000000000000", "diversification_key": {"hsm": "x"}}' \
        'diversification_key: unknown field "hsm"'
    if grep -q 'DA20D81B7D17\|DB21D91A7C16' "$work/refused.err" "$work/refused.out"; then
        echo "server: FAIL a refusal message holds key text"
        failures=$((failures + 1))
    fi
    rm -rf "$work"
    echo "server: $requests requests, 3 refused configurations, $failures failures, stopped by PID (exit $code), ${lines} log lines; $((SECONDS - started))s in all"
    [ "$failures" = 0 ]
}
