# == package =====================================================================================
# Builds the .crate (metadata, file list) and compiles it on its own, as `cargo publish`
# would. Needs the crates.io index. --allow-dirty: on a clean clone it changes nothing, and a
# local run with uncommitted changes checks those too (`cargo publish` itself still refuses a
# dirty tree). --locked: fail rather than re-resolve if Cargo.lock is stale, since the declared
# rust-version was worked out from the locked dependency versions.
package_stage() {
    echo "== package"
    cargo package --locked --allow-dirty
}
