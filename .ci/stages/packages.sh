# == packages ====================================================================================
# Installs what the run needs, from three lists: the Debian packages of .ci/packages.txt (apt-get
# update first, and only when one is missing: the dpkg database decides; NAME=VERSION must be
# installed at exactly that version), the rustup components rustfmt and clippy, and the crates.io
# tools of .ci/cargo-tools.txt (`cargo install --locked`). A second run installs nothing.
# `.ci/run` runs it first in a full run and before any stage run alone.
packages_stage() {
    echo "== packages"
    local wanted=() missing=() entry
    mapfile -t wanted < <(ci_list .ci/packages.txt)
    for entry in "${wanted[@]}"; do
        deb_installed "$entry" || missing+=("$entry")
    done
    if [ "${#missing[@]}" = 0 ]; then
        ok "the ${#wanted[@]} Debian packages of .ci/packages.txt are installed"
    else
        echo "packages: missing: ${missing[*]}"
        if [ "$(id -u)" != 0 ]; then
            fail "not root: cannot install ${missing[*]} (run as root, or install them)"
        else
            ci_workdir
            if ! apt-get update >"$CI_WORK/apt.log" 2>&1 \
                || ! DEBIAN_FRONTEND=noninteractive apt-get install -y --allow-downgrades "${missing[@]}" \
                    >>"$CI_WORK/apt.log" 2>&1; then
                fail "apt-get could not install ${missing[*]}" "$CI_WORK/apt.log"
            fi
            for entry in "${missing[@]}"; do
                if deb_installed "$entry"; then ok "installed $entry"; else fail "$entry is still not installed"; fi
            done
        fi
    fi

    local component
    for component in rustfmt clippy; do
        if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
            rustup component add "$component" >/dev/null 2>&1 || true
        fi
        if cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
            ok "rustup component $component"
        else
            fail "rustup component $component is missing, and rustup could not add it"
        fi
    done

    local tools=() tool name version
    mapfile -t tools < <(ci_list .ci/cargo-tools.txt)
    for tool in "${tools[@]}"; do
        name=${tool%%@*} version='[^:]*'
        [ "$name" = "$tool" ] || version=${tool#*@}
        # Listed by cargo and on the PATH: a binary removed by hand is installed again.
        if cargo install --list | grep -q "^$name v$version:" && command -v "$name" >/dev/null; then
            ok "cargo tool $tool"
        elif cargo install --locked "$tool"; then
            ok "cargo install --locked $tool"
        else
            fail "cargo install --locked $tool"
        fi
    done
    ci_summary
}

# ci_list FILE: the entries of a list file, without comments and blank lines.
ci_list() {
    sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$1"
}

# deb_installed NAME[=VERSION]: the package is installed (at VERSION, when given).
deb_installed() {
    local name=${1%%=*} version="" status
    [ "$name" = "$1" ] || version=${1#*=}
    status="$(dpkg-query -W -f='${db:Status-Abbrev}|${Version}' "$name" 2>/dev/null)" || return 1
    [ "${status%%|*}" = "ii " ] || return 1
    [ -z "$version" ] || [ "${status#*|}" = "$version" ]
}
