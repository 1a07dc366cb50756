# == MSRV (issue #14) ============================================================================
# The declared rust-version, checked with a real 1.85 compiler: Debian bookworm's rustc-web /
# cargo-web 1.85.0 (the three packages pinned to one version in .ci/packages.txt; the candidate
# is newer), called as /usr/bin/cargo with RUSTC and RUSTDOC set, since rustup's ~/.cargo/bin
# comes first in PATH. The library alone and with every feature, its tests, examples and doc
# tests, from the workspace's Cargo.lock (--locked), in target/msrv. `.ci/run msrv` runs this
# stage alone.
msrv_stage() {
    echo "== MSRV"
    local declared rustc_version
    declared="$(sed -n 's/^rust-version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
    rustc_version="$(/usr/bin/rustc --version 2>&1 || true)"
    if [ "$declared" = "1.85" ] && [[ "$rustc_version" == "rustc 1.85."* ]] \
        && /usr/bin/cargo --version 2>/dev/null | grep -q '^cargo 1\.85\.'; then
        ok "rust-version $declared, compiler $rustc_version"
    else
        fail "rust-version '$declared', compiler '$rustc_version': expected 1.85 and rustc 1.85 (with cargo 1.85: rustc-web and cargo-web of .ci/packages.txt)"
    fi
    msrv_cargo() {
        local what=$1
        shift
        if RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc /usr/bin/cargo "$@" -p cardadmin \
            --locked --target-dir target/msrv >"target/msrv-$what.log" 2>&1; then
            ok "$what ($*)"
        else
            fail "$what ($*); the end of its log:"
            tail -n 40 "target/msrv-$what.log"
        fi
    }
    mkdir -p target
    msrv_cargo "no_std build" build --no-default-features
    msrv_cargo "default build" build
    msrv_cargo "all features, tests, examples and doc tests" test --all-features
    ci_summary
}
