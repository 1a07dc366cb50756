# == clippy ======================================================================================
# Every package of the workspace, the PC/SC tool included (its system library comes from the
# packages stage), every target and feature, warnings denied.
clippy_stage() {
    echo "== clippy"
    cargo clippy --workspace --all-targets --all-features -- -D warnings
}
