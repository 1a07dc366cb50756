# == yubikit interop (issue #11) =================================================================
# Yubico's own PivSession (PyPI yubikey-manager, pinned in tests/interop/requirements.txt)
# authenticates to the software card through the soft_card bridge: every algorithm, right and
# wrong keys, extended and short APDUs. Virtualenv under target/, reused; bounded by timeouts.
interop_stage() {
    echo "== yubikit interop"
    bash tests/interop/run.sh
}
