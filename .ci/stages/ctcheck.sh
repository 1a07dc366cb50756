# == constant time (issue #8) ====================================================================
# The release build's key paths with the key bytes marked undefined for valgrind memcheck: any
# branch or memory address computed from them is a report, and any report fails CI; a control
# on the table-based `des` crate must report. valgrind comes from .ci/packages.txt.
# ctcheck/README.md says what this covers and what it cannot.
ctcheck_stage() {
    echo "== constant time (memcheck)"
    ctcheck/run.sh
}
