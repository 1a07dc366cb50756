# == real smart-card stack (issue #17) ===========================================================
# The software card in pcscd's virtual reader (vsmartcard-vpcd), administered by outside tools
# (opensc-tool, piv-tool, yubico-piv-tool, gids-tool, yubikit over pyscard) and by card-admin
# over PC/SC, and the MIM CM enrollment end to end against the example server; card-admin's own
# tests. Its Debian packages are in .ci/packages.txt; starts pcscd in the foreground, the card
# and the server, each stopped by its PID (at exit too, when a check fails). vpcd's port (35963) is fixed by
# /etc/reader.conf.d/vpcd and pcscd's socket (/run/pcscd/pcscd.comm) by pcscd, so this stage
# refuses to run while another pcscd runs. vpcd listens on 0.0.0.0, so pcscd and the card run
# in a network namespace of their own whose only interface is its loopback (issue #24 item 14;
# apps/card-admin/README.md), held by a sleeping process so that a restarted pcscd finds the
# card waiting in it; the stage checks that nothing outside it reaches the port.
# Ports: REALSTACK_SERVER, REALSTACK_TLS_SERVER, and REALSTACK_PROBE (card-admin's hostile
# server, with the next two ports as the redirect target and proxy that must not be used).
# `.ci/run realstack` runs this stage alone.
realstack_stage() {
    echo "== real smart-card stack"
    if pgrep -x pcscd >/dev/null; then
        echo "realstack: another pcscd runs (PID $(pgrep -x pcscd | tr '\n' ' ')); stop it first: this stage starts its own"
        return 1
    fi
    local listen="${REALSTACK_SERVER:-127.0.0.1:18084}" probe="${REALSTACK_PROBE:-127.0.0.1:18085}"
    ci_workdir
    local work="$CI_WORK"
    cargo build --release --locked -p cardadmin-card --all-features --example soft_card
    cargo build --release --locked -p card-admin -p cardadmin-server
    # card-admin is outside the workspace's default members (the README's `cargo test` runs on a
    # machine without libpcsclite-dev), so its tests run here, where the library is installed.
    cargo test --locked -p card-admin
    local venv="target/realstack-venv"
    if [ ! -x "$venv/bin/python" ]; then
        # Debian's python3 with its python3-pyscard (a PyPI pyscard would need swig and a C build).
        timeout 120 /usr/bin/python3 -m venv --system-site-packages "$venv"
    fi
    timeout 300 "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps \
        -r tests/interop/requirements.txt

    local card_admin=target/release/card-admin
    local reader="Virtual PCD 00 00"
    pcscd_pid="" card_pid="" server_pid="" netns_pid="" probe_pid="" recipe_pid=""
    ci_on_exit 'for pid in $card_pid $server_pid $pcscd_pid $probe_pid $netns_pid; do kill "$pid" 2>/dev/null || true; done'
    # The recipe runs in a session of its own: what it leaves running goes with its process group.
    ci_on_exit '[ -z "$recipe_pid" ] || kill -- "-$recipe_pid" 2>/dev/null || true'
    # "${in_netns[@]}" COMMAND...: runs COMMAND in the stage's network namespace. An array, not
    # a function: a function run with & is a subshell, and $! would be its PID, not the command's.
    local in_netns=()
    netns_ready() {
        [ "$(readlink "/proc/$netns_pid/ns/net" 2>/dev/null)" != "$(readlink /proc/self/ns/net)" ] \
            && "${in_netns[@]}" ip -o addr show dev lo 2>/dev/null | grep -q 'inet 127'
    }
    start_netns() {
        unshare --net sh -c 'ip link set lo up && exec sleep 3600' &
        netns_pid=$!
        in_netns=(nsenter --net="/proc/$netns_pid/ns/net")
        wait_for 100 "$netns_pid" netns_ready || { echo "realstack: no network namespace (unshare --net)"; return 1; }
    }
    # vpcd's port is only reachable from inside the namespace.
    pcscd_ready() { [ -S /run/pcscd/pcscd.comm ] && "${in_netns[@]}" bash -c '(exec 3<>/dev/tcp/127.0.0.1/35963)' 2>/dev/null; }
    start_pcscd() {
        "${in_netns[@]}" pcscd -f >"$work/pcscd.log" 2>&1 &
        pcscd_pid=$!
        wait_for 100 "$pcscd_pid" pcscd_ready || { echo "realstack: pcscd did not start"; cat "$work/pcscd.log"; return 1; }
    }
    # start_card ALG KEY [ATR]: the issue's command, word for word (run in pcscd's network
    # namespace); waits until the reader holds it.
    start_card() {
        local atr=()
        [ -z "${3:-}" ] || atr=(--atr "$3")
        start_card_with --algorithm "$1" --key "$2" "${atr[@]}"
    }
    # start_card_with OPTION...: the bridge with these options and --vpcd 127.0.0.1:35963.
    start_card_with() {
        : >"$work/card.log"
        "${in_netns[@]}" cargo run --quiet --release -p cardadmin-card --example soft_card --all-features -- "$@" \
            --vpcd 127.0.0.1:35963 >>"$work/card.log" 2>&1 &
        card_pid=$!
        wait_card
    }
    card_present() { "$card_admin" readers 2>/dev/null | grep -q "^$reader	card present"; }
    card_absent() { ! card_present; }
    wait_card() {
        wait_for 100 "" card_present || { echo "realstack: the card did not appear in $reader"; cat "$work/card.log"; return 1; }
    }
    stop_card() {
        stop_pid "$card_pid"
        card_pid=""
        if [ "$stopped_code" = 0 ] && tail -n 1 "$work/card.log" | grep -q '^soft_card: stopped$'; then
            ok "soft card stopped cleanly by SIGTERM (exit 0)"
        else
            fail "soft card after SIGTERM: exit $stopped_code" "$work/card.log"
        fi
        # vpcd notices the card gone on its next poll; the next card must not be taken for it.
        wait_for 100 "" card_absent || { echo "realstack: the card stayed in $reader"; return 1; }
    }

    local k_default=010203040506070801020304050607080102030405060708
    local k_other=0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a09080
    local k_wrong=111111111111111111111111111111111111111111111111
    local k_aes128=00112233445566778899aabbccddeeff
    local k_aes256=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
    export REALSTACK_K_DEFAULT=$k_default REALSTACK_K_OTHER=$k_other REALSTACK_K_WRONG=$k_wrong \
        REALSTACK_K_AES256=$k_aes256 REALSTACK_PIN=123456 REALSTACK_PIN_WRONG=654321

    # -- card-admin's command line, before any card or pcscd (issue #22 item 6, #24 item 9) ----
    # stdout_ok NAME REGEX COMMAND...: exits 0, and its standard output alone matches REGEX
    # (nothing on standard error).
    stdout_ok() {
        local name=$1 regex=$2
        shift 2
        if "$@" >"$work/out" 2>"$work/err" && grep -Eq -- "$regex" "$work/out" && [ ! -s "$work/err" ]; then
            ok "$name"
        else
            cat "$work/err" >>"$work/out"
            fail "$name" "$work/out"
        fi
    }
    stdout_ok "card-admin --help: usage on stdout, exit 0" '^usage: card-admin readers$' "$card_admin" --help
    stdout_ok "card-admin -h" '^usage: card-admin readers$' "$card_admin" -h
    stdout_ok "card-admin enroll --help: that command's usage" '^usage: card-admin \[--reader NAME\] enroll --server URL' \
        "$card_admin" enroll --help
    stdout_ok "card-admin piv verify-pin --pin-file --help: help, not a file named --help" '^usage: card-admin \[--reader NAME\] piv ' \
        "$card_admin" piv verify-pin --pin-file --help
    stdout_ok "card-admin --version" '^card-admin [0-9]+\.[0-9]+\.[0-9]+$' "$card_admin" --version
    # refuse_quietly NAME REGEX SECRET COMMAND...: exit status 2, output matches REGEX, and SECRET
    # appears in no line of it but the fixed usage text (which names the default PIN 123456).
    # A card-admin whose --help fails leaves the usage empty: the checks fail, the stage goes on.
    "$card_admin" --help >"$work/usage" 2>/dev/null || true
    refuse_quietly() {
        local name=$1 regex=$2 secret=$3 code=0
        shift 3
        "$@" >"$work/out" 2>&1 || code=$?
        if [ "$code" = 2 ] && grep -Eq -- "$regex" "$work/out" \
            && ! grep -vxF -f "$work/usage" "$work/out" | grep -qF -- "$secret"; then
            ok "$name: $(grep -Eo -- "$regex" "$work/out" | head -n 1)"
        else
            fail "$name (exit $code)" "$work/out"
        fi
    }
    refuse_quietly "card-admin --pin=123456 names the option, not the PIN" '^card-admin: --pin: .*never the command line' 123456 \
        "$card_admin" piv verify-pin --pin=123456
    refuse_quietly "card-admin --unknown=secret names the option, not the value" '^card-admin: unknown option --unknown\b' secret \
        "$card_admin" readers --unknown=secret
    refuse_quietly "card-admin: a key typed as a word is not echoed" '^card-admin: unknown command "piv authenticate \?"' "$k_default" \
        "$card_admin" piv authenticate "$k_default"
    # Refused while parsing: no card, no pcscd, no connection is needed (none is made).
    refuse_quietly "card-admin enroll refuses plain http:// off loopback" 'plain http:// to cm\.example\.com, which is not a loopback host.*man in the middle' \
        "s3cret" "$card_admin" enroll --server http://operator:s3cret@cm.example.com:8080 \
        --reqid a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099 --scid 17cf063d-e337-4aa9-a822-346554ddd3c9 \
        --cardid bc88f13f-83ba-4037-8262-46eba1291c6e

    start_netns
    start_pcscd
    # -- vpcd's port is fenced: pcscd's namespace has only its loopback, nothing outside reaches it
    if ss -Hltn | awk '{print $4}' | grep -Eq ':3596[34]$'; then
        ss -Hltnp | grep -E ':3596[34] ' >"$work/out"
        fail "vpcd's ports 35963/35964 listen in this machine's network namespace" "$work/out"
    elif port_open 127.0.0.1 35963; then
        fail "127.0.0.1:35963 answers outside pcscd's namespace"
    else
        ok "vpcd's ports are not reachable outside pcscd's network namespace"
    fi
    if "${in_netns[@]}" ip -o link | awk -F': ' '{print $2}' | grep -vqx lo; then
        "${in_netns[@]}" ip -o link >"$work/out"
        fail "pcscd's network namespace has an interface besides lo" "$work/out"
    else
        ok "pcscd's network namespace has only its loopback; vpcd there: $("${in_netns[@]}" ss -Hltn | awk '{print $4}' | grep -E ':3596[34]$' | tr '\n' ' ')"
    fi

    # -- PIV personality: opensc-tool, piv-tool (every algorithm) --------------------------------
    local alg key id
    for alg in tdes aes128 aes192 aes256; do
        case $alg in
            tdes) key=$k_other id=03 ;;
            aes128) key=$k_aes128 id=08 ;;
            aes192) key=$k_other id=0A ;;
            aes256) key=$k_aes256 id=0C ;;
        esac
        start_card "$alg" "$key"
        if [ "$alg" = tdes ]; then
            expect "soft card --key HEX still works, with a warning on stderr" 'soft_card: warning: --key puts the key on the command line' \
                cat "$work/card.log"
            expect "opensc-tool -n: OpenSC's PIV driver takes the card" '^Personal Identity Verification Card$' opensc-tool -r 0 -n
            expect "opensc-tool -s: SELECT PIV, GET VERSION 5.7.2" '^05 07 02 ' opensc-tool -r 0 -s 00a4040005a000000308 -s 00fd000000
            expect "opensc-tool -s: GET DATA CHUID answers 6A82" 'SW1=0x6A, SW2=0x82' opensc-tool -r 0 -s 00a4040005a000000308 -s 00cb3fff055c035fc102
        fi
        printf '%s\n' "$key" >"$work/piv.key"
        expect "piv-tool -A M:9B:$id ($alg): authenticated" '' env PIV_EXT_AUTH_KEY="$work/piv.key" piv-tool -r 0 -A "M:9B:$id"
        printf '%s\n' "${key//?/1}" >"$work/piv.key"
        refuse "piv-tool -A M:9B:$id ($alg), wrong key: card answered" '63 C[0-9A-F]' \
            env OPENSC_DEBUG=9 PIV_EXT_AUTH_KEY="$work/piv.key" piv-tool -r 0 -A "M:9B:$id"
        stop_card
    done

    # -- the soft card's key from the environment and from a file (issue #24 item 9) -----------
    (umask 077 && printf '%s\n' "$k_other" >"$work/card.key")
    start_card_with --algorithm tdes --key-file "$work/card.key"
    expect "soft card --key-file: card-admin authenticates with the file's key" 'step PIV mutual authenticate \(3DES\): ok' \
        "$card_admin" --reader "$reader" piv authenticate --algorithm tdes --key-env REALSTACK_K_OTHER
    if grep -q warning "$work/card.log"; then fail "soft card --key-file warned" "$work/card.log"; else ok "soft card --key-file: no warning"; fi
    stop_card
    SOFT_CARD_KEY=$k_aes256 start_card_with --algorithm aes256 --key-env SOFT_CARD_KEY
    expect "soft card --key-env: card-admin authenticates with the variable's key" 'step PIV mutual authenticate \(AES-256\): ok' \
        "$card_admin" --reader "$reader" piv authenticate --algorithm aes256 --key-env REALSTACK_K_AES256
    if grep -q warning "$work/card.log"; then fail "soft card --key-env warned" "$work/card.log"; else ok "soft card --key-env: no warning"; fi
    stop_card

    # -- yubikit PivSession over pyscard, every algorithm; pcscd restarted under the card -------
    start_card tdes "$k_default"
    if timeout 120 "$venv/bin/python" tests/interop/yubikit_pcsc.py "$reader" >"$work/yubikit.out" 2>&1; then
        ok "yubikit PivSession over pyscard: $(tail -n 1 "$work/yubikit.out")"
    else
        fail "yubikit PivSession over pyscard" "$work/yubikit.out"
    fi
    stop_pid "$pcscd_pid"
    pcscd_pid=""
    start_pcscd
    if wait_card && grep -q "connecting again" "$work/card.log"; then
        ok "pcscd restarted: the card connected again"
    else
        fail "pcscd restarted: the card did not connect again" "$work/card.log"
    fi

    # -- yubico-piv-tool, then card-admin with the key it set ------------------------------------
    expect "yubico-piv-tool -a status" 'Version:	5\.7\.2' yubico-piv-tool -r "$reader" -a status
    # The keys go to stdin (current key, new key, new key again), not argv.
    printf '%s\n%s\n%s\n' "$k_default" "$k_other" "$k_other" >"$work/keys"
    expect "yubico-piv-tool -a set-mgm-key (3DES)" 'Successfully set new management key' \
        sh -c 'yubico-piv-tool -r "$1" -a set-mgm-key -k <"$2"' sh "$reader" "$work/keys"
    expect "card-admin piv authenticate with the key yubico-piv-tool set" 'step PIV mutual authenticate \(3DES\): ok' \
        "$card_admin" --reader "$reader" piv authenticate --algorithm tdes --key-env REALSTACK_K_OTHER
    refuse "card-admin piv authenticate, old key" 'step PIV mutual authenticate \(3DES\) failed: .*63C[0-9A-F].*' \
        "$card_admin" --reader "$reader" piv authenticate --algorithm tdes --key-env REALSTACK_K_DEFAULT
    expect "card-admin piv set-management-key to AES-256" 'step PIV set management key: ok' \
        "$card_admin" --reader "$reader" piv set-management-key --algorithm tdes --key-env REALSTACK_K_OTHER \
        --new-algorithm aes256 --new-key-env REALSTACK_K_AES256
    expect "card-admin piv authenticate --mutual (AES-256)" 'step PIV mutual authenticate \(AES-256\): ok' \
        "$card_admin" --reader "$reader" piv authenticate --algorithm aes256 --key-env REALSTACK_K_AES256 --mutual
    refuse "card-admin piv verify-pin, wrong PIN" 'step verify PIN failed: the card answered 63C[0-9A-F].*' \
        "$card_admin" --reader "$reader" piv verify-pin --pin-env REALSTACK_PIN_WRONG
    expect "card-admin piv verify-pin" 'step verify PIN: ok' \
        "$card_admin" --reader "$reader" piv verify-pin --pin-env REALSTACK_PIN
    refuse "card-admin refuses a key on the command line" 'never the command line' \
        "$card_admin" piv authenticate --algorithm tdes --key-hex "$k_default"
    stop_card

    # -- GIDS personality: gids-tool and card-admin ------------------------------------------------
    start_card tdes "$k_other" 3b8d0180fba000000397425446590301c8
    expect "opensc-tool -n: OpenSC's GIDS driver takes the card" '^GIDS Smart Card$' opensc-tool -r 0 -n
    # gids-tool takes keys on its command line only (OpenSC 0.23 has no other way).
    expect "gids-tool -C: authenticates with the admin key, changes it (to the default key)" '' \
        gids-tool -r 0 -C --admin-key "$k_other" --new-admin-key "$k_default"
    expect "card-admin gids authenticate with the key gids-tool set" 'step GIDS mutual authenticate \(3DES\): ok' \
        "$card_admin" --reader "$reader" gids authenticate --algorithm tdes --key-env REALSTACK_K_DEFAULT
    # OpenSC 0.23's gids-tool writes the default key's check value (B0 73 DC) with every new key;
    # the card checks it, so a change to any other key is refused with 6A80 (apps/card-admin/README.md).
    refuse "gids-tool -C to a non-default key: card answered" '6A 80' \
        env OPENSC_DEBUG=9 gids-tool -r 0 -C --admin-key "$k_default" --new-admin-key "$k_other"
    expect "card-admin gids put-key" 'step GIDS put key: ok' \
        "$card_admin" --reader "$reader" gids put-key --algorithm tdes --key-env REALSTACK_K_DEFAULT --new-key-env REALSTACK_K_OTHER
    expect "card-admin gids authenticate with the new key" 'step GIDS mutual authenticate \(3DES\): ok' \
        "$card_admin" --reader "$reader" gids authenticate --algorithm tdes --key-env REALSTACK_K_OTHER
    refuse "card-admin gids authenticate, wrong key" 'step GIDS mutual authenticate \(3DES\) failed: .*63C[0-9A-F].*' \
        "$card_admin" --reader "$reader" gids authenticate --algorithm tdes --key-env REALSTACK_K_WRONG
    stop_card

    # -- card-admin against another PC/SC application, a hostile server, a server without requests
    # The card ships with the profile's initial admin key and says its card ID (a CHUID); the
    # server's configuration names the key in the two roles of issue #15 (initial admin key,
    # diversification key) and the profile template whose configuration hands the key out.
    # A master with no audit finding: with "tls" (below) the server refuses a weak one.
    local initial=$k_other master=2b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da5
    local cardid=bc88f13f-83ba-4037-8262-46eba1291c6e profile=12bd5120-86a2-4ee1-8d05-131066871578
    printf '{"initial_admin_key": "%s", "diversification_key": "%s", "profile_template_id": "%s"}\n' \
        "$initial" "$master" "$profile" >"$work/server.json"
    target/release/cardadmin-server --config "$work/server.json" --listen "$listen" \
        >"$work/server.out" 2>"$work/server.err" &
    server_pid=$!
    wait_port "${listen%:*}" "${listen##*:}" "$server_pid" 100 || { echo "realstack: the server did not start"; cat "$work/server.err"; return 1; }
    start_card_with --algorithm tdes --key "$initial" --card-id "$cardid"
    local ids=(--reqid a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099 --profile-template "$profile")

    # The probe (apps/card-admin/tests/interop/pcsc_probe.py) answers every request after trying
    # a SELECT of its own on the card: card-admin is mid-flow then (it selected PIV and read the
    # card ID), so the SELECT must be held back by card-admin's PC/SC transaction.
    local probe_port=${probe##*:}
    "$venv/bin/python" apps/card-admin/tests/interop/pcsc_probe.py server "$probe_port" "$reader" \
        >"$work/probe.out" 2>&1 &
    probe_pid=$!
    probe_listening() { grep -q '^listening' "$work/probe.out"; }
    wait_for 100 "$probe_pid" probe_listening || { echo "realstack: the probe did not start"; cat "$work/probe.out"; return 1; }
    "$card_admin" --reader "$reader" enroll --server "http://$probe" "${ids[@]}" >"$work/hostile.out" 2>&1 || true
    if grep -q '^interleaved: blocked' "$work/probe.out" && ! grep -q '^interleaved: sent' "$work/probe.out"; then
        ok "another application's SELECT mid-enrollment waits for card-admin's transaction: $(grep '^interleaved' "$work/probe.out" | head -n 1)"
    else
        fail "another application's APDU got between card-admin's" "$work/probe.out"
    fi
    if grep -q 'the server answered 500: request refused  forged line by policy;' "$work/hostile.out" \
        && ! LC_ALL=C grep -qP '[\x00-\x09\x0B-\x1F\x7F]|\xC2[\x80-\x9F]' "$work/hostile.out"; then
        ok "a server's error text is printed without its control characters"
    else
        fail "a server's error text reached the terminal with its controls" "$work/hostile.out"
        LC_ALL=C cat -v "$work/hostile.out" | sed 's/^/realstack:        /'
    fi
    refuse "card-admin does not follow a redirect" 'the server answered 302, a redirect, which card-admin does not follow' \
        "$card_admin" --reader "$reader" enroll --server "http://$probe/redirect" "${ids[@]}"
    refuse "card-admin: plain HTTP to loopback ignores http_proxy/ALL_PROXY" 'the server answered 500: request refused' \
        env http_proxy="http://127.0.0.1:$((probe_port + 2))" ALL_PROXY="http://127.0.0.1:$((probe_port + 2))" \
        "$card_admin" --reader "$reader" enroll --server "http://$probe" "${ids[@]}"
    stop_pid "$probe_pid"
    probe_pid=""

    # MIM CM's walkthrough needs the server's requests: without a registry it stops there.
    refuse "card-admin enroll against a server without a request registry stops at the request, changing nothing" \
        'step request failed: the server answered 501: registry: this server keeps no request registry.*this run changed nothing' \
        "$card_admin" --reader "$reader" enroll --server "http://$listen" "${ids[@]}"
    expect "the card still holds the initial key" 'step PIV mutual authenticate \(3DES\): ok' \
        "$card_admin" --reader "$reader" piv authenticate --algorithm tdes --key-env REALSTACK_K_OTHER
    stop_card
    stop_pid "$server_pid"
    server_pid=""
    [ "$stopped_code" = 0 ] || fail "server exited with $stopped_code after SIGTERM" "$work/server.err"

    # -- The MIM CM walkthrough against the secured server: enroll, a master rotated, renew ------
    # TLS with a client certificate (CN = the operator), the request registry and the audit
    # trail, certificates made here with openssl (issue #16); the lifecycle routes and master
    # versions of issue #25. Without a client certificate the handshake fails before anything
    # is written to the card, so the run with one that follows still finds the initial key.
    local tls_listen="${REALSTACK_TLS_SERVER:-127.0.0.1:18444}" ossl="$work/openssl.log"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -keyout "$work/ca.key" -out "$work/ca.pem" -subj "/CN=realstack CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>>"$ossl"
    leaf() { # leaf NAME CN EXTENSIONS: a P-256 certificate signed by the CA above
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/$1.key" \
            -out "$work/$1.csr" -subj "/CN=$2" 2>>"$ossl"
        printf '%b' "$3" >"$work/$1.ext"
        openssl x509 -req -in "$work/$1.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
            -CAcreateserial -out "$work/$1.pem" -days 2 -extfile "$work/$1.ext" 2>>"$ossl"
    }
    leaf tls-server localhost 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n'
    leaf operator alice 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n'
    # secured_config FILE MASTERS: the secured server's configuration with these master fields.
    secured_config() {
        cat >"$1" <<JSON
{
  "initial_admin_key": "$initial",
  $2,
  "profile_template_id": "$profile",
  "tls": {"cert": "$work/tls-server.pem", "key": "$work/tls-server.key", "client_ca": "$work/ca.pem"},
  "registry": "$work/registry.sqlite",
  "audit_log": "$work/audit.jsonl"
}
JSON
    }
    secured_config "$work/secured.json" "\"diversification_key\": \"$master\""
    start_secured() {
        target/release/cardadmin-server --config "$work/secured.json" --listen "$tls_listen" \
            >"$work/secured.out" 2>>"$work/secured.err" &
        server_pid=$!
        wait_port "${tls_listen%:*}" "${tls_listen##*:}" "$server_pid" 100 || { echo "realstack: the secured server did not start"; cat "$work/secured.err"; return 1; }
    }
    stop_secured() {
        stop_pid "$server_pid"
        server_pid=""
        [ "$stopped_code" = 0 ] || fail "secured server exited with $stopped_code after SIGTERM" "$work/secured.err"
    }
    # keys_line VERSION: the `keys` line of that version (version, role, algorithm, check value,
    # confirmed, pending), tab-separated.
    keys_line() {
        target/release/cardadmin-server keys --config "$work/secured.json" 2>>"$work/secured.err" | awk -F'\t' -v v="$1" '$1 == v'
    }
    local reqid=a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099 renew_reqid=5d0f7d0e-3f52-4c1e-9a7e-0c2b9f0d6a11
    local wrong_cardid=11111111-2222-3333-4444-555555555555
    # The enroll request names no smart card or card: POST /smartcards binds them.
    expect "requests add: an enroll request, operator alice, no smart card yet" "" \
        target/release/cardadmin-server requests add --config "$work/secured.json" --reqid "$reqid" --operator alice
    start_secured
    start_card_with --algorithm tdes --key "$initial" --card-id "$cardid"
    local tls_opts=(--server "https://$tls_listen" --cacert "$work/ca.pem")
    local as_alice=(--cert "$work/operator.pem" --key "$work/operator.key")
    local secured=("$card_admin" --reader "$reader" enroll "${tls_opts[@]}" --reqid "$reqid" --profile-template "$profile")
    refuse "secured enroll without a client certificate stops at the server" \
        "step request failed: .*CertificateRequired.*this run changed nothing" "${secured[@]}"
    refuse "enroll with a --cardid the card's CHUID contradicts stops before the server is asked" \
        "step read card ID failed: this card's ID is $cardid \(its CHUID\), not --cardid $wrong_cardid.*this run changed nothing" \
        "${secured[@]}" "${as_alice[@]}" --cardid "$wrong_cardid"
    if "${secured[@]}" "${as_alice[@]}" >"$work/enroll.out" 2>&1 && grep -q '^enrolled: ' "$work/enroll.out" \
        && grep -q "^step read card ID: ok, $cardid (the card's CHUID)" "$work/enroll.out"; then
        ok "card-admin enroll over TLS as alice (card ID from the CHUID, profile configuration, POST /smartcards, Completed): $(grep -c '^step .*: ok' "$work/enroll.out") steps ok, card enrolled"
        sed 's/^/realstack:        /' "$work/enroll.out"
    else
        fail "card-admin enroll over TLS" "$work/enroll.out"
        sed 's/^/realstack:        /' "$work/secured.err" | tail -n 20
    fi
    local scid
    scid="$(sed -n 's/^step create smart card: ok, smart card //p' "$work/enroll.out")"
    refuse "enroll again: the request is completed" "step request failed: the request's status is Completed, not Approved" \
        "${secured[@]}" "${as_alice[@]}"
    refuse "card-admin piv verify-pin after enrollment, old PIN" 'step verify PIN failed: the card answered 63C[0-9A-F].*' \
        "$card_admin" --reader "$reader" piv verify-pin --pin-env REALSTACK_PIN
    expect_eq "keys: the enrolled card is confirmed on version 1" "1 current 1 0" \
        "$(keys_line 1 | awk -F'\t' '{print $1, $2, $5, $6}')"
    stop_secured

    # The master rotated (a new random one): the old one moves to previous_diversification_keys
    # as version 1.
    local master2=896f474f64bdd0d346609c2358f1dae54f4a4d0dbc4beaf9
    secured_config "$work/secured.json" "\"diversification_key\": \"$master2\", \"diversification_key_version\": 2,
  \"previous_diversification_keys\": [{\"version\": 1, \"key\": \"$master\"}]"
    expect "requests add: a renew request for the enrolled card" "" \
        target/release/cardadmin-server requests add --config "$work/secured.json" --type renew \
        --reqid "$renew_reqid" --scid "$scid" --cardid "$cardid" --operator alice
    start_secured
    expect_eq "keys after the rotation: version 2 current with no card, version 1 previous with the card" \
        "2 current 0 0;1 previous 1 0" \
        "$(keys_line 2 | awk -F'\t' '{printf "%s %s %s %s", $1, $2, $5, $6}');$(keys_line 1 | awk -F'\t' '{printf "%s %s %s %s", $1, $2, $5, $6}')"
    local renew=("$card_admin" --reader "$reader" renew "${tls_opts[@]}" "${as_alice[@]}" --reqid "$renew_reqid" --scid "$scid")
    refuse "renew with a --cardid the card's CHUID contradicts stops before any key change" \
        "step read card ID failed: this card's ID is $cardid \(its CHUID\), not --cardid $wrong_cardid.*this run changed nothing" \
        "${renew[@]}" --cardid "$wrong_cardid"
    expect_eq "keys: still no key change under way" "1 previous 1 0" "$(keys_line 1 | awk -F'\t' '{print $1, $2, $5, $6}')"
    if "${renew[@]}" --cardid "$cardid" >"$work/renew.out" 2>&1 && grep -q '^renewed: ' "$work/renew.out"; then
        ok "card-admin renew: the card's key under version 1 authenticated, the version 2 key set and proven, Completed: $(grep -c '^step .*: ok' "$work/renew.out") steps ok"
        sed 's/^/realstack:        /' "$work/renew.out"
    else
        fail "card-admin renew" "$work/renew.out"
        sed 's/^/realstack:        /' "$work/secured.err" | tail -n 20
    fi
    expect_eq "keys after the renew: the card confirmed on version 2, none left on version 1" \
        "2 current 1 0;1 previous 0 0" \
        "$(keys_line 2 | awk -F'\t' '{printf "%s %s %s %s", $1, $2, $5, $6}');$(keys_line 1 | awk -F'\t' '{printf "%s %s %s %s", $1, $2, $5, $6}')"
    refuse "renew again: the request is completed" "step request failed: the request's status is Completed, not Approved" \
        "${renew[@]}" --cardid "$cardid"
    expect "the audit trail of the enrollment and renewal verifies" "" \
        target/release/cardadmin-server verify-audit "$work/audit.jsonl"
    expect "the audit trail has the initial key's, version 1's and version 2's answers" "" \
        bash -c "grep -q '\"key_role\":\"initial_key\"' '$work/audit.jsonl' && grep -q '\"key_version\":1' '$work/audit.jsonl' && grep -q '\"key_version\":2' '$work/audit.jsonl'"
    stop_card
    stop_secured
    stop_pid "$pcscd_pid"
    pcscd_pid=""
    stop_pid "$netns_pid"
    netns_pid=""

    # -- apps/card-admin/README.md's recipe, as written (issue #22 item 6) ----------------------
    # Its first sh block after "Trying it by hand", run in a session of its own (so that what it
    # leaves running can be stopped by its process group), with DIR and PORT set here.
    awk '/^## Trying it by hand with the software card/ {section = 1}
         section && /^```sh$/ {inside = 1; next}
         inside && /^```$/ {exit}
         inside {print}' apps/card-admin/README.md >"$work/recipe.sh"
    DIR="$work/recipe" PORT="${listen##*:}" setsid timeout 300 bash -e "$work/recipe.sh" >"$work/recipe.out" 2>&1 &
    recipe_pid=$!
    local recipe_code=0
    wait "$recipe_pid" || recipe_code=$?
    kill -- "-$recipe_pid" 2>/dev/null || true
    recipe_pid=""
    if [ "$recipe_code" = 0 ] && grep -q '^enrolled: ' "$work/recipe.out" && grep -q '^Personal Identity Verification Card$' "$work/recipe.out"; then
        ok "apps/card-admin/README.md's recipe runs as written ($(grep -c '' "$work/recipe.sh") lines): $(grep -c '^step .*: ok' "$work/recipe.out") steps ok, card enrolled"
    else
        fail "apps/card-admin/README.md's recipe (exit $recipe_code)" "$work/recipe.out"
    fi
    ci_summary
}
