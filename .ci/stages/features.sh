# == feature matrix ==============================================================================
# Builds each crate with each of its feature sets below: the no_std core (no default features),
# the features alone and in the combinations users pick, and all of them together.
#
# One array per crate, named after the package with `-` as `_`, then `_feature_sets`; a set is
#   none      --no-default-features (for the core: no_std, no alloc)
#   default   the default features
#   all       --all-features
#   A,B       --no-default-features --features A,B
# Checked against `cargo metadata` before anything is built: every package of FEATURE_CRATES is a
# member; every member that declares a feature is in FEATURE_CRATES; every feature a crate
# declares is built in at least one set other than `all` (directly, or enabled by one that is).
FEATURE_CRATES=(cardadmin cardadmin-card cardadmin-mimcm)
cardadmin_feature_sets=(none default alloc serde serde,alloc getrandom,rand_core_09,rand_core_010 all)
cardadmin_card_feature_sets=(none default soft-card all)
cardadmin_mimcm_feature_sets=(none default all)

features_stage() {
    echo "== feature matrix"
    ci_workspace load
    local package member feature set covered
    local -a sets
    for member in $(ci_workspace members); do
        if [ -n "$(ci_workspace features "$member")" ] && ! printf '%s\n' "${FEATURE_CRATES[@]}" | grep -qx -- "$member"; then
            fail "$member declares features ($(ci_workspace features "$member" | tr '\n' ' ')) but is not in FEATURE_CRATES"
        fi
    done
    for package in "${FEATURE_CRATES[@]}"; do
        ci_workspace features "$package" >/dev/null || { fail "$package is in FEATURE_CRATES but not a package of the workspace"; continue; }
        declare -p "${package//-/_}_feature_sets" >/dev/null 2>&1 || { fail "$package: no array ${package//-/_}_feature_sets"; continue; }
        local -n package_sets="${package//-/_}_feature_sets"
        sets=("${package_sets[@]}")
        unset -n package_sets
        covered=" "
        for set in "${sets[@]}"; do
            [ "$set" = all ] || [ "$set" = none ] || for feature in ${set//,/ }; do
                covered+="$(ci_workspace implied "$package" "$feature" | tr '\n' ' ')"
            done
        done
        for feature in $(ci_workspace features "$package"); do
            [[ "$covered" == *" $feature "* ]] || fail "$package: feature $feature is in none of ${package//-/_}_feature_sets"
        done
    done
    [ "$ci_failed" = 0 ] || { ci_summary; return 1; }

    for package in "${FEATURE_CRATES[@]}"; do
        local -n package_sets="${package//-/_}_feature_sets"
        sets=("${package_sets[@]}")
        unset -n package_sets
        for set in "${sets[@]}"; do
            local args=(-p "$package")
            case "$set" in
                none) args+=(--no-default-features) ;;
                default) ;;
                all) args+=(--all-features) ;;
                *) args+=(--no-default-features --features "$set") ;;
            esac
            if cargo build "${args[@]}"; then
                ok "cargo build ${args[*]}"
            else
                fail "cargo build ${args[*]}"
            fi
        done
    done
    ci_summary
}
