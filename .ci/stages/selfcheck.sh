# == the CI scripts themselves ===================================================================
# Cheap checks of the automation before anything is built: every shell script parses
# (`bash -n`), every Python script of .ci/ parses, each stage of the full run has its file
# .ci/stages/NAME.sh defining NAME_stage (and no stage file is left out of the run), and no
# script installs system packages except the packages stage (one list: .ci/packages.txt).
# `.ci/run selfcheck` runs this stage alone.
selfcheck_stage() {
    echo "== selfcheck"
    ci_workdir
    local script
    for script in .ci/run .ci/lib.sh .ci/stages/*.sh scripts/*.sh ctcheck/run.sh tests/interop/run.sh benches/*.sh; do
        [ -e "$script" ] || continue
        if bash -n "$script" 2>"$CI_WORK/err"; then
            ok "bash -n $script"
        else
            fail "bash -n $script" "$CI_WORK/err"
        fi
    done
    for script in .ci/*.py; do
        if python3 -c 'import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])' "$script" 2>"$CI_WORK/err"; then
            ok "python3 parses $script"
        else
            fail "python3 parses $script" "$CI_WORK/err"
        fi
    done

    local stage listed=" $CI_STAGES "
    for stage in $CI_STAGES; do
        if grep -q "^${stage}_stage() {" ".ci/stages/$stage.sh" 2>/dev/null; then
            ok "stage $stage: .ci/stages/$stage.sh defines ${stage}_stage"
        else
            fail "stage $stage: no .ci/stages/$stage.sh defining ${stage}_stage"
        fi
    done
    for script in .ci/stages/*.sh; do
        stage="$(basename "$script" .sh)"
        [[ "$listed" == *" $stage "* ]] || fail "$script is not a stage of the full run (STAGES in .ci/run)"
    done

    # Only the packages stage runs apt-get (comments and messages may name it).
    local calls
    calls="$(grep -n 'apt[-]get\|apt[ ]install' .ci/run .ci/lib.sh .ci/stages/*.sh scripts/*.sh ctcheck/run.sh \
        tests/interop/run.sh 2>/dev/null | grep -v '^\.ci/stages/packages\.sh:' \
        | grep -v '^[^:]*:[0-9]*: *#' | grep -v 'echo\|fail \|ok ' || true)"
    if [ -z "$calls" ]; then
        ok "no script but the packages stage calls apt-get"
    else
        fail "apt-get outside the packages stage (add the package to .ci/packages.txt instead):"
        echo "$calls" | sed 's/^/selfcheck:        /'
    fi
    ci_summary
}
