# == API stability guard (issue #22) =============================================================
# The public API of each published crate, rendered from rustdoc's JSON by .ci/api_snapshot.py
# (one line per public item: path, kind, signature; sorted), must equal its committed snapshot
# api/CRATE.txt; any difference fails the stage and is printed as a diff (`-` the snapshot,
# `+` the code). A change to the API is made on purpose by blessing the new snapshot and
# committing it with the change, so the diff is reviewed:
#
#   bash .ci/run api --bless        (or API_BLESS=1 bash .ci/run api) rewrites api/CRATE.txt
#
# API_CRATES is the list of published crates: a crate in it that is not a package of the
# workspace fails, and so does a member with a library target that is not in it (checked with
# `cargo metadata`), so no crate is skipped silently. rustdoc's JSON needs
# RUSTC_BOOTSTRAP=1 on a stable toolchain.
API_CRATES=(cardadmin cardadmin-card cardadmin-mimcm cardadmin-pkcs11)

api_stage() {
    echo "== API stability guard"
    local bless="${API_BLESS:-}" crate lib
    case "${1:-}" in
        --bless) bless=1 ;;
        "") ;;
        *) echo "api: unknown option '$1' (the option is --bless)"; return 2 ;;
    esac
    ci_workdir
    ci_workspace load
    for lib in $(ci_workspace libs); do
        printf '%s\n' "${API_CRATES[@]}" | grep -qx -- "$lib" \
            || fail "$lib has a library target but is not in API_CRATES (.ci/stages/api.sh)"
    done
    local members crates=() jsons=()
    members="$(ci_workspace members)"
    for crate in "${API_CRATES[@]}"; do
        if ! grep -qx -- "$crate" <<<"$members"; then
            fail "$crate is in API_CRATES but is not a package of the workspace"
            continue
        fi
        local json="target/doc/${crate//-/_}.json"
        rm -f "$json"
        if RUSTC_BOOTSTRAP=1 cargo rustdoc --locked --quiet -p "$crate" --lib --all-features \
            -- -Z unstable-options --output-format json 2>"$CI_WORK/rustdoc.log"; then
            crates+=("$crate")
            jsons+=("$json")
        else
            fail "$crate: rustdoc JSON" "$CI_WORK/rustdoc.log"
        fi
    done
    mkdir -p api
    local i j
    for i in "${!crates[@]}"; do
        crate=${crates[$i]}
        local snapshot="api/$crate.txt" rendered="$CI_WORK/$crate.txt" externs=()
        # The other crates' JSON, so types of the workspace's crates are named by public paths.
        for j in "${!jsons[@]}"; do
            [ "$j" = "$i" ] || externs+=(--extern "${jsons[$j]}")
        done
        if ! python3 .ci/api_snapshot.py "${jsons[$i]}" "${externs[@]}" >"$rendered" 2>"$CI_WORK/render.log"; then
            fail "$crate: .ci/api_snapshot.py" "$CI_WORK/render.log"
            continue
        fi
        if [ -n "$bless" ]; then
            cp "$rendered" "$snapshot"
            ok "$crate: blessed $snapshot ($(wc -l <"$snapshot") lines)"
        elif [ ! -f "$snapshot" ]; then
            fail "$crate: no snapshot $snapshot; make it with: bash .ci/run api --bless"
        elif diff -u --label "$snapshot (committed)" --label "$crate (the code)" "$snapshot" "$rendered" >"$CI_WORK/api.diff"; then
            ok "$crate: the public API equals $snapshot ($(wc -l <"$snapshot") lines)"
        else
            fail "$crate: the public API differs from $snapshot ($(grep -c '^[-+][^-+]' "$CI_WORK/api.diff") lines):"
            sed 's/^/    /' "$CI_WORK/api.diff"
            echo "api: if the change is meant, run 'bash .ci/run api --bless' and commit $snapshot with it"
        fi
    done
    ci_summary
}
