# == constant time: the engine's assembly (issue #8) =============================================
# memcheck does not see multiplications or divisions (their latency can depend on operands on
# some processors): the engine's release assembly must have none, nor call code not checked.
asm_stage() {
    echo "== constant time (engine assembly)"
    scripts/check-engine-asm.sh
}
