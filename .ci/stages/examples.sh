# == examples ====================================================================================
# Every example of every crate runs with all its crate's features: the ones below with no input
# (their output discarded; a non-zero exit fails), and the software card bridge, which answers
# command APDUs on stdin, with SELECT PIV and GET VERSION and an exact answer.
#
# One array per crate that has examples, named after the package with `-` as `_`, then
# `_examples`. Checked against `cargo metadata` first: each crate's examples are exactly its
# array plus the bridge (where SOFT_CARD_CRATE says it lives), and every member with examples is
# in EXAMPLE_CRATES, so a new example cannot be left out.
EXAMPLE_CRATES=(cardadmin cardadmin-card)
cardadmin_examples=(mim_cm authentication_response provision_card propose_pin aes_admin_key)
# The package whose `soft_card` example is the bridge.
SOFT_CARD_CRATE=cardadmin-card
# cardadmin-card has no example but the bridge.
cardadmin_card_examples=()

examples_stage() {
    echo "== examples"
    ci_workspace load
    local package member expected declared example
    for member in $(ci_workspace members); do
        if [ -n "$(ci_workspace examples "$member")" ] && ! printf '%s\n' "${EXAMPLE_CRATES[@]}" | grep -qx -- "$member"; then
            fail "$member has examples ($(ci_workspace examples "$member" | tr '\n' ' ')) but is not in EXAMPLE_CRATES"
        fi
    done
    for package in "${EXAMPLE_CRATES[@]}"; do
        declared="$(ci_workspace examples "$package")" || { fail "$package is in EXAMPLE_CRATES but not a package of the workspace"; continue; }
        declare -p "${package//-/_}_examples" >/dev/null 2>&1 || { fail "$package: no array ${package//-/_}_examples"; continue; }
        local -n listed="${package//-/_}_examples"
        expected="$( { printf '%s\n' "${listed[@]}"; [ "$package" != "$SOFT_CARD_CRATE" ] || echo soft_card; } | sed '/^$/d' | sort)"
        unset -n listed
        if [ "$expected" = "$declared" ]; then
            ok "$package's examples are the listed ones: $(tr '\n' ' ' <<<"$declared")"
        else
            fail "$package's examples: Cargo.toml has '$(tr '\n' ' ' <<<"$declared")', ${package//-/_}_examples (and the bridge) '$(tr '\n' ' ' <<<"$expected")'"
        fi
    done
    [ "$ci_failed" = 0 ] || { ci_summary; return 1; }

    for package in "${EXAMPLE_CRATES[@]}"; do
        local -n listed="${package//-/_}_examples"
        for example in "${listed[@]}"; do
            if cargo run --quiet -p "$package" --all-features --example "$example" >/dev/null; then
                ok "$package example $example"
            else
                fail "$package example $example"
            fi
        done
        unset -n listed
    done
    # The software card bridge answers stdin lines until EOF: SELECT PIV and GET VERSION.
    local answer expected_answer
    expected_answer="$(printf '61114f0600001000010079074f05a0000003089000\n0507029000')"
    answer="$(printf '00a4040005a000000308\n00fd000000\n' | cargo run --quiet -p "$SOFT_CARD_CRATE" --all-features \
        --example soft_card -- --algorithm aes192 --key 010203040506070801020304050607080102030405060708)"
    expect_eq "soft_card bridge: SELECT PIV and GET VERSION answered" "$expected_answer" "$answer"
    ci_summary
}
