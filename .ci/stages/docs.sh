# == docs ========================================================================================
# rustdoc over every package of the workspace with every feature, warnings (broken intra-doc
# links among them) denied.
docs_stage() {
    echo "== docs (warnings denied)"
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features
}
