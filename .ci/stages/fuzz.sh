# == fuzz (issue #3) =============================================================================
# Every cargo-fuzz target (as `cargo fuzz list` names them: a new target is fuzzed without
# editing this file) for a short fixed time (FUZZ_SECONDS, default 30); a crash, a failed
# property or a hang (an input taking over 10 s) fails CI. cargo-fuzz (.ci/cargo-tools.txt)
# needs nightly flags, which RUSTC_BOOTSTRAP=1 allows on this stable toolchain. New corpus
# entries go to a temporary directory, so the committed seed corpus (fuzz/corpus/<target>/) is
# only read.
fuzz_stage() {
    echo "== fuzz"
    export RUSTC_BOOTSTRAP=1
    local targets=() target runs seconds="${FUZZ_SECONDS:-30}"
    mapfile -t targets < <(cargo fuzz list)
    if [ "${#targets[@]}" = 0 ]; then
        fail "cargo fuzz list names no target"
        ci_summary
        return 1
    fi
    echo "fuzz: ${#targets[@]} targets: ${targets[*]}"
    ci_workdir
    cargo fuzz build
    for target in "${targets[@]}"; do
        mkdir -p "$CI_WORK/corpus/$target"
        if cargo fuzz run "$target" "$CI_WORK/corpus/$target" "fuzz/corpus/$target" -- \
            -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$CI_WORK/$target.log" 2>&1; then
            runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$CI_WORK/$target.log" \
                | grep -o '[0-9]*$' || true)"
            ok "$target: ${seconds}s, ${runs:-?} executions, no crash"
        else
            fail "$target: its log ends:"
            tail -n 60 "$CI_WORK/$target.log"
        fi
    done
    ci_summary
}
