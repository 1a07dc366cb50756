#!/usr/bin/env bash
# The long local fuzz campaign of issue #3: every target, one at a time, for SECONDS each
# (default 600), pinned to one core at low priority so the machine stays usable.
#
#   scripts/fuzz-campaign.sh [SECONDS] [TARGET...]
#
# New corpus entries go to $FUZZ_WORK/corpus/<target> (default /tmp/fuzzcampaign), not to the
# committed seed corpus in fuzz/corpus/<target>, which is read as a second corpus directory.
# Logs go to $FUZZ_WORK/logs/<target>.log; crashes to fuzz/artifacts/<target>/ (git-ignored).
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`).
set -uo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-600}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi
work="${FUZZ_WORK:-/tmp/fuzzcampaign}"
core="${FUZZ_CORE:-1}"
mkdir -p "$work/logs"

export RUSTC_BOOTSTRAP=1
nice -n 10 cargo fuzz build || exit 1
status=0
for target in "${targets[@]}"; do
    mkdir -p "$work/corpus/$target"
    log="$work/logs/$target.log"
    echo "== $target: ${seconds}s, started $(date -u +%FT%TZ)" | tee -a "$work/summary.txt"
    nice -n 10 taskset -c "$core" cargo fuzz run "$target" "$work/corpus/$target" \
        "fuzz/corpus/$target" -- -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    executed="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')"
    echo "== $target: exit $rc, executions ${executed:-?}, ended $(date -u +%FT%TZ)" \
        | tee -a "$work/summary.txt"
    [ "$rc" -eq 0 ] || status=1
done
exit "$status"
