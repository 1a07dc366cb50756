# == format ======================================================================================
# rustfmt over every package of the workspace, checked, never rewritten.
fmt_stage() {
    echo "== format"
    cargo fmt --all --check
}
