# == tests: the README's test command (issue #22) ================================================
# Exactly the command of the root README's set-up section, as a new user types it: the packages
# the workspace's `default-members` name (every member but apps/card-admin, the PC/SC tool,
# whose tests run in the realstack stage), every feature. Before it, what makes it pass on a
# fresh machine with a Rust toolchain and nothing else: nothing it builds looks for a system
# library through pkg-config (pcsc-sys did, before card-admin left the default members). The
# one crate allowed to depend on the pkg-config crate is libsqlite3-sys with `bundled`, which
# compiles SQLite itself and never asks pkg-config.
test_stage() {
    echo "== tests (the README's test command)"
    if ! readme_test_set_needs_no_system_library; then
        fail "the README's test command builds a crate that finds its system library through pkg-config"
        ci_summary
        return 1
    fi
    cargo test --all-features
}

# readme_test_set_needs_no_system_library [CARGO TREE OPTIONS]: the crates the README's test
# command builds (with the options, e.g. --workspace, another set) that use pkg-config.
readme_test_set_needs_no_system_library() {
    local graph users name version features bad=0
    graph="$(cargo tree --locked --all-features -e normal,build,dev --prefix none --format '{p}' "$@")"
    if ! grep -q '^pkg-config ' <<<"$graph"; then
        ok "no crate the README's test command builds depends on pkg-config ($(sort -u <<<"$graph" | wc -l) packages)"
        return 0
    fi
    users="$(cargo tree --locked --all-features -e normal,build,dev -i pkg-config --prefix none --depth 1 \
        --format '{p} {f}' "$@")"
    while read -r name version features; do
        case "$name" in
            pkg-config) continue ;;
            libsqlite3-sys) [[ ",$features," == *,bundled,* ]] && { ok "$name $version uses pkg-config but is bundled (builds SQLite itself)"; continue; } ;;
        esac
        fail "$name $version finds a system library through pkg-config; a fresh machine has none"
        bad=1
    done <<<"$users"
    [ "$bad" = 0 ]
}
