#!/usr/bin/env bash
# Mutation testing of src/ with cargo-mutants (issue #3): every mutant of the library must be
# caught by `cargo test --all-features` (unit, integration and doc tests).
#
#   scripts/mutants.sh [extra cargo-mutants arguments, e.g. --iterate or -f src/challenge.rs]
#
# Results land in mutants.out/ (git-ignored): caught.txt, missed.txt, unviable.txt, timeout.txt.
# Low priority and MUTANTS_JOBS (default 2) parallel builds, for a shared 2-core machine. It
# takes about half an hour there. Not part of .ci/run: too slow for CI.
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
# Issue #14, item 13 (cargo-mutants 27.1.0), on a 2-core machine shared with six other builds,
# so bounded: one file at a time, in place in a scratch clone, only the test targets that
# exercise the file (doc tests left out, so a doc-test-only kill would show as missed):
#
#   cargo mutants --in-place --all-features --timeout 180 --build-timeout 900 \
#       -f src/auth/piv.rs -- --lib --test card_flows --test card_parsers_malformed
#
#   src/auth/piv.rs   44 mutants: 29 caught, 0 missed, 0 timeouts, 15 unviable (100% of the 29
#                     viable ones; the unviable ones return `Default::default()` or a leaked
#                     Vec where the type has no such value, and do not compile); 49 min
#
# The review's seven survivors in the card side's `piv::parse_general_authenticate` (guards
# `&&` to `||`, `||` to `&&`, `==` to `!=`, a guard to true or false, on the request,
# response and witness-and-challenge arms) are all caught now, by
# tests/card_parsers_malformed.rs (malformed GENERAL AUTHENTICATE data: a request tag with a
# value, an empty response, other tags, trailing data, witness and challenge lengths), which
# also checks `gids::PutKey`'s redacted `Debug` exactly. Not run, for lack of machine time
# before the deadline: src/apdu, src/auth/gids.rs, yubikey.rs, mod.rs, src/soft_card,
# src/cm and src/kdf (the same command with `-f` per file and `--test hardening --test
# fuzz_regressions` added for apdu).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-mutants >/dev/null 2>&1; then
    cargo install cargo-mutants --locked
fi

status=0
nice -n 10 cargo mutants --all-features --jobs "${MUTANTS_JOBS:-2}" "$@" || status=$?

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
