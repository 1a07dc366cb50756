# == who may ask (issue #16) =====================================================================
# The example server with TLS client certificates, the SQLite request registry, the hash-chained
# audit trail and the rate limit, end to end, as Rust integration tests of the server crate
# (apps/server/tests/: whomay.rs: certificates made in-process with rcgen, every 403 rule, 429,
# verify-audit on the real log and on tampered or torn copies, SIGKILL under load with the
# tls_load client and a restart that continues the chain, an audit trail that cannot be
# written, plain HTTP on loopback only; tls_identity.rs: CRLs; plain_http.rs: the Host check
# and header timeout; startup.rs: weak masters, file modes; connections.rs: the connection cap
# and a stuck stdout; lifecycle.rs: issue #25's lifecycle routes and master versions, on SQLite
# here, on PostgreSQL too where CARDADMIN_TEST_DATABASE_URL is set). Each server on a free loopback port (CARDADMIN_TEST_PORTS=LO-HI keeps
# them to a range), its own temp dir, killed by PID. Nothing is left in bash: no openssl, no
# curl. `.ci/run whomay` runs this stage alone.
whomay_stage() {
    echo "== who may ask (TLS client certificates, registry, audit trail, rate limit)"
    local started=$SECONDS
    cargo test --locked -p cardadmin-server --test whomay --test tls_identity --test plain_http \
        --test startup --test connections --test lifecycle
    echo "whomay: $((SECONDS - started))s"
}
