# == example server (issue #9) ===================================================================
# The example server's HTTP checks are Rust integration tests of the server crate
# (apps/server/tests/example_config.rs and cli.rs: the built binary on a loopback port with
# config.example.json, exact statuses, content types and bodies, HEAD, the log, the warnings,
# refused configurations, --help). This stage runs them, then starts the server with the
# README's command word for word (SERVER_LISTEN overrides the address) and asks the documented
# request over bash's /dev/tcp (no curl), and stops it by its PID (`cargo run` execs the
# server on Unix, so $! is the server). `.ci/run server` runs this stage alone.
server_stage() {
    echo "== example server"
    local listen="${SERVER_LISTEN:-127.0.0.1:8080}"
    local host="${listen%:*}" port="${listen##*:}"
    local started=$SECONDS
    cargo test --locked -p cardadmin-server --test example_config --test cli
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
        echo "server: something already listens on $listen; set SERVER_LISTEN to a free address"
        return 1
    fi
    local work
    work="$(mktemp -d)"
    cargo build --release --locked --manifest-path apps/server/Cargo.toml
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
    local target="/certificatemanagement/api/v1.0/requests/a9b4b42c-cc50-4c9b-89d1-bbc0bcd5a099/smartcards/17cf063d-e337-4aa9-a822-346554ddd3c9/authenticationresponse?cardid=bc88f13f-83ba-4037-8262-46eba1291c6e&challenge=1hFD%2Bcz%2F0so%3D&diversified=False"
    timeout 10 bash -c 'exec 3<>"/dev/tcp/$1/$2"; printf "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" "$3" "$1:$2" >&3; cat <&3' \
        _ "$host" "$port" "$target" >"$work/answer" || true
    kill -TERM "$server_pid"
    local code=0
    wait "$server_pid" || code=$?
    trap - EXIT
    local failures=0
    if head -1 "$work/answer" | grep -q '^HTTP/1.1 200 ' && [ "$(tail -n 1 "$work/answer")" = '"F0Zudm4wPLY="' ]; then
        echo "server: ok   the README's command answers the documented request: \"F0Zudm4wPLY=\""
    else
        echo "server: FAIL the README's command: $(cat "$work/answer") $(cat "$work/stderr")"
        failures=$((failures + 1))
    fi
    if [ "$code" != 0 ] || [ "$(wc -l <"$work/stdout")" != 1 ]; then
        echo "server: FAIL exit $code after SIGTERM, $(wc -l <"$work/stdout") log lines for 1 request"
        failures=$((failures + 1))
    fi
    rm -rf "$work"
    echo "server: $failures failures; $((SECONDS - started))s in all"
    [ "$failures" = 0 ]
}
