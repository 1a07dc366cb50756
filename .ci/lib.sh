# Helpers shared by the CI stages (.ci/stages/*.sh), written once. Sourced by .ci/run, which
# runs each stage in a process of its own with CI_STAGE set to the stage's name; never run
# alone. Every helper here is for a stage body: `set -euo pipefail` is in force.

export CARGO_TERM_COLOR=never

# -- counters ------------------------------------------------------------------------------------
# ok MESSAGE / fail MESSAGE [LOG]: one line each, prefixed with the stage's name; fail shows the
# last 20 lines of LOG when given. ci_summary prints "STAGE: N passed, N failed" and returns
# non-zero when anything failed, so a stage can end with it.
ci_passed=0
ci_failed=0
ok() {
    echo "$CI_STAGE: ok   $1"
    ci_passed=$((ci_passed + 1))
}
fail() {
    echo "$CI_STAGE: FAIL $1"
    if [ -n "${2:-}" ]; then
        sed "s/^/$CI_STAGE:        /" "$2" | tail -n 20
    fi
    ci_failed=$((ci_failed + 1))
}
ci_summary() {
    echo "$CI_STAGE: $ci_passed passed, $ci_failed failed"
    [ "$ci_failed" = 0 ]
}

# expect_eq NAME EXPECTED GOT: ok when GOT is exactly EXPECTED.
expect_eq() {
    if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: expected '$2', got '$3'"; fi
}
# expect NAME REGEX COMMAND...: ok when the command exits 0 and its output (stdout and stderr)
# matches the extended REGEX (an empty REGEX matches anything). Needs ci_workdir.
expect() {
    local name=$1 regex=$2
    shift 2
    if "$@" >"$CI_WORK/out" 2>&1 && { [ -z "$regex" ] || grep -Eq -- "$regex" "$CI_WORK/out"; }; then
        ok "$name"
    else
        fail "$name" "$CI_WORK/out"
    fi
}
# refuse NAME REGEX COMMAND...: ok when the command exits non-zero and its output matches REGEX
# (the matching part is shown). Needs ci_workdir.
refuse() {
    local name=$1 regex=$2
    shift 2
    if ! "$@" >"$CI_WORK/out" 2>&1 && grep -Eq -- "$regex" "$CI_WORK/out"; then
        ok "$name: $(grep -Eo -- "$regex" "$CI_WORK/out" | head -n 1)"
    else
        fail "$name" "$CI_WORK/out"
    fi
}

# -- clean-up at exit, and a temporary directory -------------------------------------------------
# ci_on_exit COMMAND: COMMAND runs when the stage's process exits, however it exits (a failed
# check under `set -e` included); the last registered runs first. One EXIT trap for all, so a
# stage never overwrites another clean-up's trap.
ci_exit_commands=()
ci_on_exit() {
    ci_exit_commands+=("$1")
    trap ci_run_exit_commands EXIT
}
ci_run_exit_commands() {
    local i
    for ((i = ${#ci_exit_commands[@]} - 1; i >= 0; i--)); do
        eval "${ci_exit_commands[$i]}" || true
    done
}
# ci_workdir: a fresh directory in CI_WORK (under TMPDIR, named after the stage), removed at exit.
ci_workdir() {
    CI_WORK="$(mktemp -d "${TMPDIR:-/tmp}/cardadmin-ci-$CI_STAGE.XXXXXX")"
    ci_on_exit 'rm -rf "$CI_WORK"'
}

# -- processes and ports -------------------------------------------------------------------------
# port_open HOST PORT: something accepts connections there.
port_open() {
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}
# wait_for TENTHS PID COMMAND...: runs COMMAND every tenth of a second until it succeeds;
# returns 1 when TENTHS tenths have passed, or as soon as process PID (unless empty) has exited.
wait_for() {
    local tenths=$1 pid=$2 waited=0
    shift 2
    until "$@"; do
        if { [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; } || [ "$waited" -ge "$tenths" ]; then
            return 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}
# wait_port HOST PORT PID [TENTHS]: waits until HOST:PORT accepts connections (at most TENTHS
# tenths of a second, default 300); 1 when PID exits first or the time is up.
wait_port() {
    wait_for "${4:-300}" "$3" port_open "$1" "$2"
}
# stop_pid PID: SIGTERM to a child of this stage and waits for it; its exit status is left in
# stopped_code (0 for a clean stop), and stop_pid itself always succeeds.
stop_pid() {
    stopped_code=0
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || stopped_code=$?
}

# -- the workspace, from cargo metadata ----------------------------------------------------------
# ci_workspace WHAT [PACKAGE]: facts about the workspace's members, one a line, so the stages'
# lists of crates, examples and features are checked against Cargo.toml files, not trusted:
#   members            every member package
#   libs               members with a library target
#   examples PACKAGE   PACKAGE's example targets (fails when PACKAGE is not a member)
#   features PACKAGE   the features PACKAGE declares, "default" left out
#   implied PACKAGE F  F and every feature of PACKAGE that F enables, transitively
# `ci_workspace load` (outside a command substitution) reads cargo metadata once for the stage;
# without it, each question reads it again.
ci_facts=""
ci_workspace() {
    if [ "$1" = load ]; then
        ci_facts="$(ci_workspace_facts)"
        return
    fi
    local facts="$ci_facts"
    [ -n "$facts" ] || facts="$(ci_workspace_facts)"
    case "$1" in
        members | libs) awk -v what="$1" '$1 == what { print $2 }' <<<"$facts" ;;
        examples | features | implied)
            if ! awk -v p="$2" '$1 == "members" && $2 == p { found = 1 } END { exit !found }' <<<"$facts"; then
                echo "$2 is not a package of the workspace (members: $(awk '$1 == "members" { printf "%s ", $2 }' <<<"$facts"))" >&2
                return 1
            fi
            if [ "$1" = implied ]; then
                awk -v p="$2" -v f="$3" '$1 == "implied" && $2 == p && $3 == f { for (i = 4; i <= NF; i++) print $i }' <<<"$facts"
            else
                awk -v what="$1" -v p="$2" '$1 == what && $2 == p { print $3 }' <<<"$facts"
            fi
            ;;
        *)
            echo "ci_workspace: unknown question '$1'" >&2
            return 2
            ;;
    esac
}
# The facts as lines "members NAME", "libs NAME", "examples NAME EXAMPLE", "features NAME
# FEATURE" and "implied NAME FEATURE F...", sorted.
ci_workspace_facts() {
    cargo metadata --format-version 1 --no-deps --locked | python3 -c '
import json, sys
meta = json.load(sys.stdin)
facts = []
for p in meta["packages"]:
    if p["id"] not in meta["workspace_members"]:
        continue
    name, features = p["name"], p["features"]
    facts.append(f"members {name}")
    if any("lib" in t["kind"] or "proc-macro" in t["kind"] for t in p["targets"]):
        facts.append(f"libs {name}")
    for target in p["targets"]:
        if "example" in target["kind"]:
            facts.append("examples " + name + " " + target["name"])
    for feature in features:
        if feature != "default":
            facts.append(f"features {name} {feature}")
        seen, todo = set(), [feature]
        while todo:
            f = todo.pop()
            if f in features and f not in seen:
                seen.add(f)
                todo.extend(features[f])
        facts.append(f"implied {name} {feature} " + " ".join(sorted(seen)))
print("\n".join(sorted(facts)))
'
}
