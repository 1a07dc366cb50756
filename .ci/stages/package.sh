# == package =====================================================================================
# Builds the .crate of each crate meant for crates.io (metadata, file list) and compiles each on
# its own, as `cargo publish` would: the core, the card layer and the MIM CM facade, packaged
# together so that the two crates around the core resolve it from the same run. The PKCS#11
# crate, the server and the PC/SC tool are `publish = false`. Needs the crates.io index.
# --allow-dirty: on a clean clone it changes nothing, and a local run with uncommitted changes
# checks those too (`cargo publish` itself still refuses a dirty tree). --locked: fail rather
# than re-resolve if Cargo.lock is stale, since the declared rust-version was worked out from
# the locked dependency versions.
PUBLISHED_CRATES=(cardadmin cardadmin-card cardadmin-mimcm)

package_stage() {
    echo "== package"
    local args=()
    for crate in "${PUBLISHED_CRATES[@]}"; do
        args+=(-p "$crate")
    done
    cargo package --locked --allow-dirty "${args[@]}"
}
