#!/usr/bin/env bash
# Builds the release library as assembly and fails if any function of the constant-time 3DES
# engine (src/primitive/tdes.rs) contains a multiplication or division instruction.
#
# Why: the engine must not multiply or divide secret data (the latency of such instructions
# depends on the operands on some CPUs), and LLVM introduces multiplications on its own: it
# turned a `b | b << 36` step into an `imul` by a constant. The source avoids those patterns;
# this script checks what the compiler actually emitted. It also fails if an engine function
# calls a function that was not itself checked (a helper LLVM chose not to inline, which
# would otherwise escape the scan; memcpy, memset and panics are allowed), and lists the
# engine functions it inspected.
#
# Usage: scripts/check-engine-asm.sh   (from the repository root; needs only cargo)
# Limits: it checks the host target and the current toolchain only, and only functions whose
# mangled name contains `primitive` and `tdes` (every engine helper is #[inline(always)], so
# its code lands inside those).
set -euo pipefail

cd "$(dirname "$0")/.."
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

CARGO_TARGET_DIR="$out/target" cargo rustc --quiet --release --lib -- --emit asm \
    -C "llvm-args=-x86-asm-syntax=intel" >/dev/null 2>&1 ||
    CARGO_TARGET_DIR="$out/target" cargo rustc --quiet --release --lib -- --emit asm
asm=$(ls "$out"/target/release/deps/cardadmin-*.s)

awk '
    # A function starts at a global label and ends at its .Lfunc_end label.
    /^[_A-Za-z][^ \t]*:$/ && !/^\.L/ { fn = substr($0, 1, length($0) - 1); next }
    /^\.Lfunc_end/ { fn = ""; next }
    fn ~ /primitive/ && fn ~ /tdes/ {
        seen[fn] = 1
        # Instructions only: skip directives and labels.
        if ($1 ~ /^\./ || $1 ~ /:$/) next
        op = tolower($1)
        if (op ~ /^(v?p?mul|imul|mulx|div|idiv|v?p?madd|vpmullq|pmuludq|pclmul)/) {
            bad++; printf "FAIL %s: %s\n", fn, $0
        }
        if (op == "call") {
            target = $NF
            sub(/^.*\+ /, "", target); sub(/\]$/, "", target); sub(/@.*$/, "", target)
            if (target !~ /panic|memcpy|memset|memmove/) { callee[target] = fn }
        }
    }
    END {
        n = 0; for (f in seen) { n++; printf "checked %s\n", f }
        if (n == 0) { print "FAIL: no engine function found in the assembly"; exit 1 }
        for (t in callee) {
            if (!(t in seen)) { bad++; printf "FAIL %s calls unchecked %s\n", callee[t], t }
        }
        if (bad > 0) { printf "FAIL: %d problem(s): multiply/divide instructions or unchecked callees\n", bad; exit 1 }
        printf "ok: %d engine functions, no multiply or divide instruction, no unchecked callee\n", n
    }
' "$asm"
