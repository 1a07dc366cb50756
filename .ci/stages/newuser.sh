# == a new user's project (issue #14) ============================================================
# What a newcomer does: a fresh `cargo new` project that depends on this crate by path (with the
# features the examples name: getrandom, serde; and cardadmin-card with soft-card, and
# cardadmin-mimcm), plus serde and serde_json, which the
# serde examples say to add), the README's Rust example and the doc examples of the module docs
# (and of every item in the files most often copied) pasted in as programs, built and run.
# .ci/doc_examples.py also fails on a doc example naming what a user's project does not have:
# `rand_core::OsRng`, a bare `rand_core::` path, a dev-dependency, or serde_json unannounced.
# `.ci/run newuser` runs this stage alone.
newuser_stage() {
    echo "== new user"
    local root="$PWD"
    ci_workdir
    local work="$CI_WORK"
    local project="$work/newuser"
    cargo new --quiet --vcs none --bin --name newuser "$project"
    (cd "$project" && cargo add --quiet --path "$root" --features getrandom,serde \
        && cargo add --quiet --path "$root/crates/card" --features soft-card \
        && cargo add --quiet --path "$root/crates/mimcm" \
        && cargo add --quiet serde --features derive && cargo add --quiet serde_json)
    rm "$project/src/main.rs"
    local listing
    if listing="$(python3 .ci/doc_examples.py "$project" getrandom serde soft-card -- README.md \
        $(find src -name '*.rs' | sort) all:src/cm/mod.rs all:src/pin/generate.rs \
        all:src/pin/secret.rs all:src/key_serde.rs all:src/rng.rs all:src/hazmat.rs \
        crates/card/README.md $(find crates/card/src -name '*.rs' | sort) \
        all:crates/card/src/soft_card/mod.rs all:crates/card/src/auth/piv.rs \
        crates/mimcm/README.md $(find crates/mimcm/src -name '*.rs' | sort) \
        all:crates/mimcm/src/handle.rs all:crates/mimcm/src/error.rs)"; then
        ok "no doc example names rand_core::OsRng, a bare rand_core, a dev-dependency or an unannounced serde_json"
    else
        grep '^FAIL' <<<"$listing" | sed 's/^/newuser: /'
        fail "doc examples name what a user's project does not have (above)"
    fi
    grep '^skip' <<<"$listing" | sort -u | sed 's/^/newuser: /' || true
    # The user's own resolution (no lock file of ours), as `cargo new` would get it.
    if ! (cd "$project" && cargo build --quiet --bins 2>"$work/build.log"); then
        fail "the examples do not build in a new project:"
        cat "$work/build.log"
        ci_summary
        return 1
    fi
    local name source
    while read -r _ name source; do
        if (cd "$work" && timeout 60 "$project/target/debug/$name" >"$work/$name.out" 2>&1); then
            ok "$source"
        else
            fail "$source:" "$work/$name.out"
        fi
    done < <(grep '^example' <<<"$listing" | sort -u)
    ci_summary
}
