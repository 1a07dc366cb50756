# == master key in a PKCS#11 token (issue #15) ===================================================
# SoftHSMv2 from Debian (.ci/packages.txt), a token in a temporary directory through SOFTHSM2_CONF. Masters
# for 3DES and each AES size are put in the token by cardadmin-ceremony (generated there, and
# from typed components) and by another client (python-pkcs11 in a virtualenv under target/:
# crates/pkcs11/tests/other_client.py); the token's derivations are compared with in-memory ones
# (the crate's tests, CARDADMIN_REQUIRE_SOFTHSM=1 so a missing SoftHSMv2 fails instead of
# skipping; and the server's answers with each key against the in-memory master holding the
# same bytes, or against other_client.py's own AN10922 from the token's CMAC for keys whose
# bytes nobody knows); the key's value cannot be read; a wrong PIN, a missing token and a
# missing label stop the server with their messages. The server listens on HSM_LISTEN
# (default 127.0.0.1:18082), is started and stopped by PID. `.ci/run hsm` runs this stage alone.
hsm_stage() {
    echo "== hsm (SoftHSMv2)"
    local module
    module="$(dpkg -L softhsm2 2>/dev/null | grep '/libsofthsm2\.so$' | head -n 1 || true)"
    module="${module:-/usr/lib/softhsm/libsofthsm2.so}"
    ci_workdir
    local work="$CI_WORK"
    mkdir -p "$work/tokens"
    printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
        "$work/tokens" >"$work/softhsm2.conf"
    export SOFTHSM2_CONF="$work/softhsm2.conf"

    # The mechanisms the token offers.
    local token=cardadmin-ci pin=246813579 so_pin=97531864
    softhsm2-util --init-token --free --label "$token" --pin "$pin" --so-pin "$so_pin" >/dev/null
    local mechanisms
    mechanisms="$(pkcs11-tool --module "$module" --token-label "$token" --list-mechanisms 2>/dev/null)"
    for mechanism in DES3-CMAC AES-CMAC; do
        if grep -q "^ *$mechanism, .*sign" <<<"$mechanisms"; then
            ok "SoftHSMv2 $(softhsm2-util --version) offers $mechanism for signing"
        else
            fail "SoftHSMv2 does not list $mechanism"
        fi
    done

    # The crate's tests against SoftHSMv2 (their own tokens; absence is a failure here).
    if CARDADMIN_REQUIRE_SOFTHSM=1 CARDADMIN_SOFTHSM_MODULE="$module" \
        cargo test --locked -p cardadmin-pkcs11 >"$work/tests.log" 2>&1; then
        ok "cargo test -p cardadmin-pkcs11 with SoftHSMv2 required ($(grep -o '[0-9]* passed' "$work/tests.log" | awk '{s+=$1} END {print s}') tests)"
    else
        tail -n 60 "$work/tests.log"
        fail "cargo test -p cardadmin-pkcs11"
    fi

    cargo build --release --locked -p cardadmin-pkcs11 -p cardadmin-server
    local ceremony=target/release/cardadmin-ceremony
    local venv=target/hsm-venv
    if [ ! -x "$venv/bin/python" ]; then
        timeout 120 python3 -m venv "$venv"
    fi
    timeout 300 "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps \
        -r crates/pkcs11/tests/requirements.txt
    other() { PKCS11_MODULE="$module" PKCS11_PIN="$pin" "$venv/bin/python" crates/pkcs11/tests/other_client.py "$@"; }
    export CARDADMIN_HSM_PIN="$pin"
    local common=(--module "$module" --token "$token" --pin-env CARDADMIN_HSM_PIN)

    # Components, typed on standard input (no terminal here), and the master they XOR to.
    declare -A c1 c2 c3 master
    c1[tdes]=0123456789abcdeffedcba987654321089abcdef01234567
    c2[tdes]=13579bdf02468ace2468ace013579bdf0f1e2d3c4b5a6978
    c1[aes128]=000102030405060708090a0b0c0d0e0f
    c2[aes128]=f0e1d2c3b4a5968778695a4b3c2d1e0f
    c1[aes192]=6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c
    c2[aes192]=9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52ef
    c1[aes256]=603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4
    c2[aes256]=f69f2445df4f9b17ad2b417be66c3710b6e2d57a7d1f2c0e4e2e1d5e2a5b6c7d
    c3[aes256]=30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710
    for alg in tdes aes128 aes192 aes256; do
        master[$alg]="$(python3 - "$alg" "${c1[$alg]}" "${c2[$alg]}" "${c3[$alg]:-}" <<'PY'
import sys
alg, parts = sys.argv[1], [bytes.fromhex(p) for p in sys.argv[2:] if p]
key = bytes(len(parts[0]))
for p in parts:
    key = bytes(a ^ b for a, b in zip(key, p))
if alg == "tdes":  # odd parity, as the ceremony sets it
    key = bytes((b & 0xFE) | (0 if bin(b & 0xFE).count("1") % 2 else 1) for b in key)
print(key.hex())
PY
)"
        local n=2 input="${c1[$alg]}\ny\n${c2[$alg]}\ny\n"
        if [ -n "${c3[$alg]:-}" ]; then n=3; input="${input}${c3[$alg]}\ny\n"; fi
        local out
        if out="$(printf "$input" | "$ceremony" import "${common[@]}" --label "cer-imp-$alg" \
            --algorithm "$alg" --components "$n" 2>"$work/stderr")" \
            && grep -q "from $n components: check value [0-9A-F]\{6\} " <<<"$out"; then
            ok "ceremony import $alg from $n components: $(grep -o 'components: check value [0-9A-F]*' <<<"$out" | sed 's/components: //')"
        else
            fail "ceremony import $alg: $out $(cat "$work/stderr")"
        fi
        if out="$("$ceremony" generate "${common[@]}" --label "cer-gen-$alg" --algorithm "$alg" 2>&1)"; then
            ok "ceremony generate $alg: $(grep -o 'check value [0-9A-F]*' <<<"$out")"
        else
            fail "ceremony generate $alg: $out"
        fi
        expect_eq "python-pkcs11 writes $alg" "written py-$alg $alg" "$(other write "$token" "py-$alg" "$alg" "${master[$alg]}" 2>&1)"
        expect_eq "python-pkcs11 generates $alg" "generated py-gen-$alg $alg" "$(other generate "$token" "py-gen-$alg" "$alg" 2>&1)"
    done
    # A component the custodian does not confirm writes nothing.
    if printf '%s\nn\n' "${c1[aes128]}" | "$ceremony" import "${common[@]}" --label unconfirmed \
        --algorithm aes128 --components 2 >/dev/null 2>"$work/stderr"; then
        fail "an unconfirmed component was accepted"
    else
        expect_eq "an unconfirmed component stops the import" \
            "cardadmin-ceremony: custodian 1 did not confirm the check value; nothing was written" \
            "$(tail -n 1 "$work/stderr")"
    fi
    # Two equal components XOR to zero: refused (issue #24: as the second is typed).
    if printf '%s\ny\n%s\ny\n' "${c1[aes128]}" "${c1[aes128]}" | "$ceremony" import "${common[@]}" \
        --label zero --algorithm aes128 --components 2 >/dev/null 2>"$work/stderr"; then
        fail "equal components were accepted"
    else
        grep -q "components 1 and 2 are equal" "$work/stderr" \
            && ok "equal components (an all-zero master) are refused" \
            || fail "equal components: $(cat "$work/stderr")"
    fi

    # `list`: every key with its check value; the token's CMAC check values, as this crate
    # computes them, equal python-pkcs11's CMAC(K, 0^block) through the same token.
    local listing
    listing="$("$ceremony" list "${common[@]}")"
    echo "$listing" | sed 's/^/hsm:      /'
    for alg in tdes aes128 aes192 aes256; do
        for label in "cer-imp-$alg" "cer-gen-$alg" "py-$alg" "py-gen-$alg"; do
            local listed theirs
            listed="$(awk -v l="$label" '$1 == l {print $3}' <<<"$listing")"
            theirs="$(other kcv "$token" "$label" "$alg")"
            expect_eq "check value of $label: list = python-pkcs11's CMAC" "$theirs" "$listed"
        done
        expect_eq "ceremony-imported and python-written $alg masters are the same key" \
            "$(awk -v l="py-$alg" '$1 == l {print $3}' <<<"$listing")" \
            "$(awk -v l="cer-imp-$alg" '$1 == l {print $3}' <<<"$listing")"
        for label in "cer-imp-$alg" "cer-gen-$alg" "py-$alg"; do
            expect_eq "CKA_VALUE of $label cannot be read" "refused: AttributeSensitive" \
                "$(other read "$token" "$label")"
        done
    done
    if pkcs11-tool --module "$module" --token-label "$token" --login --pin "$pin" --read-object \
        --type secrkey --label cer-gen-aes256 >/dev/null 2>"$work/stderr"; then
        fail "pkcs11-tool read the value of cer-gen-aes256"
    else
        grep -q CKR_ATTRIBUTE_SENSITIVE "$work/stderr" \
            && ok "pkcs11-tool --read-object of a master: CKR_ATTRIBUTE_SENSITIVE" \
            || fail "pkcs11-tool --read-object: $(cat "$work/stderr")"
    fi

    hsm_server_checks

    unset SOFTHSM2_CONF
    ci_summary
}
# The example server with masters in the token (the stage's token, keys and helpers above).
hsm_server_checks() {
    local listen="${HSM_LISTEN:-127.0.0.1:18082}"
    local host="${listen%:*}" port="${listen##*:}"
    local server=target/release/cardadmin-server
    if port_open "$host" "$port"; then
        fail "something already listens on $listen; set HSM_LISTEN to a free address"
        return
    fi
    local server_pid=""
    # start_server CONFIG: starts the server, waits for its port; 1 if it exited instead.
    start_server() {
        "$server" --config "$1" --listen "$listen" >"$work/server.out" 2>"$work/server.err" &
        server_pid=$!
        if ! wait_port "$host" "$port" "$server_pid" 300; then
            stop_pid "$server_pid"
            server_pid=""
            return 1
        fi
    }
    stop_server() {
        if [ -n "${server_pid:-}" ]; then
            stop_pid "$server_pid"
            server_pid=""
        fi
    }
    # Stops a server left running when this function returns early; then clears itself, so it
    # does not fire again when the caller returns (server_pid is this function's local).
    trap 'stop_server; trap - RETURN' RETURN
    # config FILE DIVERSIFICATION_KEY_JSON
    config() {
        printf '{\n  "initial_admin_key": "000000000000000000000000000000000000000000000000",\n  "diversification_key": %s\n}\n' "$2" >"$1"
    }
    pkcs11_key() {
        printf '{"pkcs11": {"module": "%s", "token": "%s", "label": "%s", "algorithm": "%s", "pin_env": "CARDADMIN_HSM_PIN"}}' \
            "$module" "$token" "$1" "$2"
    }
    local base="http://$listen/CertificateManagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9"
    local cards=(bc88f13f-83ba-4037-8262-46eba1291c6e 00000000-0000-0000-0000-000000000000
        "$(cat /proc/sys/kernel/random/uuid)" "$(cat /proc/sys/kernel/random/uuid)")
    # answers ALG: the bodies of diversified=true and diversifiedkey for every card, one a line
    answers() {
        local challenge=1hFD%2Bcz%2F0so%3D
        [ "$1" = tdes ] || challenge=AQIDBAUGBwgJCgsMDQ4PEA%3D%3D
        for card in "${cards[@]}"; do
            curl -sS -w ' %{http_code}\n' "$base/authenticationresponse?cardid=$card&challenge=$challenge&diversified=true"
            curl -sS -w ' %{http_code}\n' "$base/diversifiedkey?cardid=$card"
        done
    }
    for alg in tdes aes128 aes192 aes256; do
        config "$work/memory.json" "{\"algorithm\": \"$alg\", \"key\": \"${master[$alg]}\"}"
        local memory=""
        if start_server "$work/memory.json"; then
            memory="$(answers "$alg")"
            stop_server
        fi
        if [ -z "$memory" ] || grep -qv ' 200$' <<<"$memory"; then
            fail "$alg in memory: $memory $(cat "$work/server.err")"
            continue
        fi
        for label in "cer-imp-$alg" "py-$alg" "cer-gen-$alg" "py-gen-$alg"; do
            config "$work/hsm.json" "$(pkcs11_key "$label" "$alg")"
            if ! start_server "$work/hsm.json"; then
                fail "server with $label: did not start: $(cat "$work/server.err")"
                continue
            fi
            local got kcv listed
            got="$(answers "$alg")"
            stop_server
            listed="$(awk -v l="$label" '$1 == l {print $3}' <<<"$listing")"
            kcv="$(grep -o 'diversification key: [^;]*check value [0-9A-F]\{6\}' "$work/server.err" | awk '{print $NF}')"
            expect_eq "server with $label: start-up check value = ceremony list" "$listed" "$kcv"
            case "$label" in
            cer-imp-* | py-"$alg")
                expect_eq "server with $label ($( [ "${label%%-*}" = cer ] && echo ceremony || echo python-pkcs11)): ${#cards[@]} cards' diversified=true and diversifiedkey bodies = the in-memory master's" \
                    "$memory" "$got"
                ;;
            *)
                # Nobody knows these keys' bytes: python-pkcs11 derives the card keys itself
                # from the token's CMAC (AN10922 written apart from the crate).
                local theirs="" card
                for card in "${cards[@]}"; do
                    theirs+="\"$(other an10922 "$token" "$label" "$alg" "$card")\" 200"$'\n'
                done
                expect_eq "server with generated $label: ${#cards[@]} diversifiedkey bodies = python-pkcs11's own AN10922 over the token's CMAC" \
                    "$(printf '%s' "$theirs")" "$(sed -n '2~2p' <<<"$got")"
                grep -qv ' 200$' <<<"$got" && fail "server with $label: a request failed: $got"
                ;;
            esac
        done
    done

    # Start-up refusals: each says which.
    refused() { # NAME CONFIG_JSON MESSAGE [env...]
        local name=$1 json=$2 message=$3
        shift 3
        config "$work/bad.json" "$json"
        if env "$@" "$server" --config "$work/bad.json" --listen "$listen" >"$work/server.out" 2>"$work/server.err"; then
            fail "$name: the server started"
        elif grep -qF "$message" "$work/server.err"; then
            ok "$name: start-up stopped: $(grep -F "$message" "$work/server.err" | head -n 1)"
        else
            fail "$name: expected '$message', got: $(cat "$work/server.err")"
        fi
    }
    refused "wrong PIN" "$(pkcs11_key cer-gen-aes128 aes128)" \
        "PKCS#11 token \"$token\" refused the PIN (incorrect); it is not tried again" CARDADMIN_HSM_PIN=11112222
    if grep -q 11112222 "$work/server.err" "$work/server.out"; then fail "the wrong PIN was printed"; fi
    refused "missing token" "$(pkcs11_key cer-gen-aes128 aes128 | sed 's/"token": "[^"]*"/"token": "no-such-token"/')" \
        "PKCS#11 token \"no-such-token\" not found: no slot holds a token with that label"
    refused "missing label" "$(pkcs11_key no-such-key aes128)" \
        "PKCS#11 token \"$token\": no secret key labelled \"no-such-key\""
    refused "PIN variable unset" "$(pkcs11_key cer-gen-aes128 aes128)" \
        "environment variable CARDADMIN_HSM_PIN is not set" -u CARDADMIN_HSM_PIN
    refused "key of another algorithm" "$(pkcs11_key cer-gen-aes128 aes256)" \
        "PKCS#11 key \"cer-gen-aes128\" is AES-128, but the configuration says AES-256"
    # pkcs11-tool's keys may encrypt, decrypt, wrap and unwrap (its defaults on SoftHSMv2).
    pkcs11-tool --module "$module" --token-label "$token" --login --pin "$pin" --keygen \
        --key-type AES:16 --label tool-aes128 --sensitive >/dev/null 2>&1
    refused "an encrypting key (made by pkcs11-tool)" "$(pkcs11_key tool-aes128 aes128)" \
        "PKCS#11 key \"tool-aes128\": CKA_ENCRYPT is true, expected false"
    # "check_value" (issue #24): a key under the label with another check value is refused.
    local right_kcv wrong_kcv
    right_kcv="$(awk '$1 == "cer-gen-aes128" {print $3}' <<<"$listing")"
    wrong_kcv=000000
    [ "$right_kcv" = 000000 ] && wrong_kcv=000001
    refused "a key with another check value" \
        "$(pkcs11_key cer-gen-aes128 aes128 | sed "s/}}\$/, \"check_value\": \"$wrong_kcv\"}}/")" \
        "PKCS#11 key \"cer-gen-aes128\" has check value $right_kcv, but the configuration's check_value is $wrong_kcv"
    refused "a check_value that is not 6 hex digits" \
        "$(pkcs11_key cer-gen-aes128 aes128 | sed 's/}}$/, "check_value": "12345"}}/')" \
        "pkcs11.check_value: a check value is 6 hex digits"

    # A token failure during a request: 500, a JSON message about the key store, no detail.
    other write "$token" doomed-aes128 aes128 "${master[aes128]}" >/dev/null
    config "$work/hsm.json" "$(pkcs11_key doomed-aes128 aes128)"
    if start_server "$work/hsm.json"; then
        local before after
        before="$(curl -sS -w ' %{http_code}' "$base/diversifiedkey?cardid=${cards[0]}")"
        pkcs11-tool --module "$module" --token-label "$token" --login --pin "$pin" \
            --delete-object --type secrkey --label doomed-aes128 >/dev/null 2>&1
        after="$(curl -sS -w ' %{http_code} %{content_type}' "$base/diversifiedkey?cardid=${cards[0]}")"
        stop_server
        expect_eq "diversifiedkey before the key is deleted" 200 "${before##* }"
        if [[ "$after" =~ ^\{\"Message\":\"[^\"]*key\ store[^\"]*\"\}\ 500\ application/json ]] \
            && ! grep -q "${before%% *}" <<<"$after"; then
            ok "the key deleted under the running server: $after"
        else
            fail "the key deleted under the running server: expected a 500 about the key store, got $after"
        fi
        if grep -q 'CKR_OBJECT_HANDLE_INVALID\|ObjectHandleInvalid\|object handle' "$work/server.err"; then
            ok "the PKCS#11 detail is on stderr: $(grep -m1 -i 'object handle\|ObjectHandleInvalid' "$work/server.err")"
        else
            fail "no PKCS#11 detail on stderr: $(cat "$work/server.err")"
        fi
    else
        fail "server with doomed-aes128 did not start: $(cat "$work/server.err")"
    fi
}
