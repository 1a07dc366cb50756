#!/usr/bin/env bash
# Constant-time check of cardadmin's key paths (issue #8): builds ctcheck in release mode and
# runs it under valgrind memcheck. Exit status: 0 when every key path reports nothing (beyond
# from_hex's one allowed decision), the controls report and the self-tests give their counts;
# non-zero otherwise. See ctcheck/README.md.
#
#   ctcheck/run.sh                  the check, as .ci/run runs it
#   ctcheck/run.sh --only respond   only the named path(s) (names: ctcheck/run.sh --list)
#   ctcheck/run.sh --sites          each path in its own valgrind run, with its distinct report
#                                   sites (memcheck's "contexts"); for reading, not a verdict
#
# CTCHECK_VALGRIND_FLAGS adds valgrind options, e.g. CTCHECK_VALGRIND_FLAGS=--track-origins=yes
# (off by default: every undefined value here comes from ctcheck's own client request, so the
# origins add little, and the log already says which path a report belongs to).
# memcheck's full report goes to ctcheck/target/memcheck.log.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v valgrind >/dev/null 2>&1 || [ ! -f /usr/include/valgrind/memcheck.h ]; then
    # Debian ships the client request headers in the valgrind package itself; CI installs it
    # with the other packages of .ci/packages.txt (`bash .ci/run packages`).
    echo "ctcheck: needs valgrind and /usr/include/valgrind/memcheck.h: install Debian's valgrind package" >&2
    exit 1
fi

cargo build --quiet --release --locked
binary=target/release/cardadmin-ctcheck
log=target/memcheck.log
# --error-limit=no: past 1000 distinct sites or 10 million reports memcheck stops counting.
valgrind_flags=(--tool=memcheck --error-limit=no ${CTCHECK_VALGRIND_FLAGS:-})

if [ "${1:-}" = "--list" ]; then
    exec "$binary" --list
fi

if [ "${1:-}" = "--sites" ]; then
    while IFS= read -r path; do
        valgrind "${valgrind_flags[@]}" --log-file="$log" "$binary" --only "$path" \
            >/dev/null || true
        summary="$(grep -o 'ERROR SUMMARY: [0-9]* errors from [0-9]* contexts' "$log")"
        read -r _ _ reports _ _ sites _ <<<"$summary"
        echo "ctcheck $path: $sites distinct sites, $reports reports"
    done < <("$binary" --list)
    exit 0
fi

status=0
out=target/ctcheck.out
valgrind "${valgrind_flags[@]}" --log-file="$log" "$binary" "$@" >"$out" || status=$?
cat "$out"
if [ "$status" -ne 0 ]; then
    grep -o 'ERROR SUMMARY: .*' "$log" || true
    echo "ctcheck: memcheck's full report is in ctcheck/$log"
    failed="$(sed -n 's/^ctcheck \([^ :]*\): .*: FAILED$/\1/p' "$out" | head -n 1)"
    if [ -n "$failed" ]; then
        echo "ctcheck: the first report of $failed (memcheck shows each site once, the first time):"
        awk -v begins="ctcheck: path $failed begins" '
            index($0, begins) { in_path = 1; next }
            in_path && /ctcheck: path / { exit }
            in_path && /(Conditional jump|Use of uninitialised)/ { shown = 1 }
            shown && /^==[0-9]+== $/ { exit }
            shown { print }' "$log"
    fi
fi

# The aes crate picks AES-NI at run time where the processor has it (as on the machines this
# runs on) and its bitsliced software AES ("fixslice") elsewhere. Check the software one too:
# the AES paths again, in a build where aes's `aes_force_soft` configuration selects it.
soft_status=0
soft_dir=target/aes-soft
RUSTFLAGS="--cfg aes_force_soft" CARGO_TARGET_DIR="$soft_dir" \
    cargo build --quiet --release --locked
only=()
while IFS= read -r path; do
    only+=(--only "$path")
done < <("$binary" --list | grep '^aes')
echo "ctcheck: the AES paths again with the software AES (aes_force_soft):"
valgrind "${valgrind_flags[@]}" --log-file="$soft_dir/memcheck.log" \
    "$soft_dir/release/cardadmin-ctcheck" "${only[@]}" || soft_status=$?
if [ "$soft_status" -ne 0 ]; then
    grep -o 'ERROR SUMMARY: .*' "$soft_dir/memcheck.log" || true
    echo "ctcheck: memcheck's full report is in ctcheck/$soft_dir/memcheck.log"
    [ "$status" -ne 0 ] || status=$soft_status
fi
exit "$status"
