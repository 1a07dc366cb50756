#!/usr/bin/env bash
# Mutation testing of src/ with cargo-mutants (issue #3): every mutant of the library must be
# caught by `cargo test --all-features` (unit, integration and doc tests).
#
#   scripts/mutants.sh [extra cargo-mutants arguments, e.g. --iterate or -f src/challenge.rs]
#   scripts/mutants.sh AREA [extra arguments]      one area (see below), AREA apdu auth ...
#
# Results land in mutants.out/ (git-ignored): caught.txt, missed.txt, unviable.txt, timeout.txt.
# Low priority and MUTANTS_JOBS (default 2) parallel builds, for a shared 2-core machine. The
# whole crate (over a thousand mutants since issue #14) takes hours there, one area 10 to 50
# minutes. Not part of .ci/run: too slow for CI.
#
# Last full run (issue #3, cargo-mutants 27.1.0): 271 mutants, 212 caught, 7 missed,
# 0 timeouts, 52 unviable: 96.8% of the 219 viable mutants caught. The 7 left are equivalent or
# cannot be observed from safe code:
#   src/audit.rs:113 (x2)   `3 + 3 + 2` with a `*`: a larger findings array; at most 7 are used
#   src/card_id.rs:109      `(b << 4) | v` with `^`: the low nibble is zero, so `|` is `^`
#   src/diversify.rs:109    `high_bits | bit` with `^`: bit 0 of high_bits is zero, same again
#   src/pin/policy.rs:96    `builder()` as `Default::default()`: it is exactly that
#   src/pin/secret.rs:70    `Drop for Pin` emptied: zeroization of a freed Pin is not visible
#                           to safe code (tests/zeroize.rs does this for AdminKey, whose layout
#                           has no padding to read)
#   src/pin/generate.rs:135 `Drop for RandomBytes` emptied: a stack buffer inside generate
#
# Issue #14, item 13 (cargo-mutants 27.1.0): the card flows, APDU layer, soft card, MIM CM
# facade and KDF, one area at a time, with the test binaries that exercise it (nextest, so no
# doc tests: every kill below is by a unit or integration test) and the `mutants` profile
# (no debug info):
#
#   scripts/mutants.sh AREA [extra cargo-mutants arguments]     AREA: apdu auth soft_card cm kdf
#
# First run, in place in scratch clones, two areas at a time on a shared 2-core machine:
#
#   area       files                          mutants  caught  missed  unviable  time
#   auth       src/auth/gids, yubikey, mod        127      74       6        47  2332 s
#   auth       src/auth/piv.rs (earlier)           44      29       0        15  49 min
#   apdu       src/apdu/*                         174      72      44        58  1886 s
#   soft_card  src/soft_card/*                    179     119      21        39  2365 s
#   cm         src/cm/*                           190     118      22        50  2863 s
#   kdf        src/kdf/*                           32      21       1        10   390 s
#
# No timeouts. Most of the 94 missed were real gaps, now closed by tests: TLV lengths in the
# 81 and 82 forms (never parsed in a test) and the writer's choice of form; MAX_ENCODED one
# byte short; extended Le with a high byte; the soft card's SELECT answers, and SELECT or a
# reset ending an outstanding challenge; a PIN change ending the verification; a `+` in a
# path read as a space (it would have let `<guid>+` through, as Guid.Parse trims spaces); a
# route with only one of its literal segments right; a target of exactly MAX_TARGET_LEN;
# control characters in error bodies; the exact `Debug` of every buffer that carries a secret;
# APDU buffers and the soft card's witness wiped on drop (tests/zeroize.rs's allocator);
# names, metadata accessors and messages that only doc tests checked.
#
# The missed ones again (`-F` per name), after those tests: 81 caught, 13 missed, all
# equivalent. So 702 mutants: 485 caught, 13 missed, 204 unviable: 97.4% of the 498 viable,
# every non-equivalent one. (apdu 636 s, soft_card 557 s, cm 333 s, auth 193 s, kdf 23 s.)
#
#   src/apdu/mod.rs:48 (x3)     `4 + 3 + MAX_COMMAND_DATA + 2` with a `*`: a larger buffer
#                               (tests/apdu_codec.rs kills the `-` ones, a buffer too short)
#   src/auth/gids.rs:128        `2 * RANDOM_LEN + 16` with `*`: a larger buffer
#   src/soft_card/mod.rs:111    `2 * gids::RANDOM_LEN + MAX_BLOCK` with `*`: the same
#   src/soft_card/mod.rs:616    `2 + 6 + 2 + 2 + 5`, the third `+` as `*`: 2 * 2 is 2 + 2
#   src/apdu/mod.rs:393         `high << 8 | low` with `^`: the low byte of `high << 8` is zero
#   src/apdu/tlv.rs:183, 211    the same in parse_tag and parse_length
#   src/cm/request.rs:1240      `(high << 4) | low` with `^`: the low nibble is zero
#   src/apdu/mod.rs:596         `0x63c0 | left` with `^`: left is at most 15, the nibble zero
#   src/apdu/mod.rs:595         `left > 0x0f` with `>=`: at 15 both keep 15
#   src/kdf/an10922.rs:318      `|` with `^` in set_des_parity: bit 0 was cleared just before
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-mutants >/dev/null 2>&1; then
    cargo install cargo-mutants --locked
fi

# The test binaries that exercise each area.
area_tests() {
    case "$1" in
    apdu) echo apdu_codec zeroize card_flows card_parsers_malformed hardening soft_card_pin \
        weak_keys wrong_key_status fuzz_regressions ;;
    auth) echo adversarial_flows card_flows card_parsers_malformed hardening soft_card_pin \
        weak_keys wrong_key_status fuzz_regressions ;;
    soft_card) echo card_flows card_parsers_malformed hardening soft_card_pin weak_keys \
        wrong_key_status fuzz_regressions adversarial_flows zeroize ;;
    cm) echo cm_request cm_parse_answer review_attack bad_input master \
        hardening no_alloc algorithms ;;
    kdf) echo vectors master cmac_crosscheck properties review_attack algorithms hardening \
        cm_parse_answer fuzz_regressions no_alloc ;;
    *) return 1 ;;
    esac
}

status=0
if [ "$#" -gt 0 ] && tests="$(area_tests "$1")"; then
    area="$1"
    shift
    if ! command -v cargo-nextest >/dev/null 2>&1; then
        cargo install cargo-nextest --locked
    fi
    test_args=(--lib)
    for test in $tests; do
        test_args+=(--test "$test")
    done
    nice -n 10 cargo mutants --all-features --jobs "${MUTANTS_JOBS:-2}" --profile mutants \
        --test-tool nextest --timeout 180 --build-timeout 900 -f "src/$area/*.rs" "$@" \
        -- "${test_args[@]}" || status=$?
else
    nice -n 10 cargo mutants --all-features --jobs "${MUTANTS_JOBS:-2}" "$@" || status=$?
fi

count() { if [ -f "mutants.out/$1.txt" ]; then grep -c . "mutants.out/$1.txt" || true; else echo 0; fi; }
caught="$(count caught)"
missed="$(count missed)"
unviable="$(count unviable)"
timeouts="$(count timeout)"
viable=$((caught + missed + timeouts))
echo "caught $caught, missed $missed, timeouts $timeouts, unviable $unviable"
if [ "$viable" -gt 0 ]; then
    # Timeouts count as caught, as cargo-mutants does: the mutant did not pass the tests.
    echo "viable mutants caught: $(( (caught + timeouts) * 1000 / viable / 10 )).$(( (caught + timeouts) * 1000 / viable % 10 ))%"
fi
exit "$status"
