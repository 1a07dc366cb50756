#!/usr/bin/env bash
# yubikit interop (issue #11, item 4): Yubico's PivSession against the software card, through
# the soft_card bridge example. Idempotent: the virtualenv lives under target/ (not packaged,
# not committed) and is reused when it already holds the pinned versions. Bounded in time.
set -euo pipefail
cd "$(dirname "$0")/../.."

venv="target/interop-venv"
if [ ! -x "$venv/bin/python" ]; then
    timeout 120 python3 -m venv "$venv"
fi
# Pinned, and --no-deps: what yubikit.piv imports is listed in requirements.txt.
timeout 300 "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps \
    -r tests/interop/requirements.txt

cargo build --quiet -p cardadmin-card --all-features --example soft_card
timeout 120 "$venv/bin/python" tests/interop/yubikit_soft_card.py target/debug/examples/soft_card
