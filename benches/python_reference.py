#!/usr/bin/env python3
"""The diversified `authenticationresponse` request in Python, as the yardstick for
`cm::authentication_response(.., diversified = true)` (the criterion bench
`authentication_response/diversified/cardadmin` in benches/diversify.rs).

The job, from the three text parameters to the base64 answer string:
uuid text -> bytes_le, base64 decode of the challenge, three CMAC-TDES (AN10922 3TDEA, inputs
0x31/0x32/0x33 || card ID), one TDES-ECB encryption of the challenge under the 24 CMAC bytes,
base64 encode. The odd-parity step of cardadmin is left out: DES ignores parity bits, so it
does not change the answer, and leaving it out only makes Python faster.

As in the Rust bench, the master key object is made once, outside the timed loop (a server
holds its master key); everything else is inside.

Needs the `cryptography` package (OpenSSL underneath): `pip install cryptography`.
Run from the repository root, pinned like the Rust benches:

    taskset -c 0 python3 benches/python_reference.py

If `target/criterion` holds a result of `cargo bench --bench diversify`, the script also prints
the ratio Rust / Python from criterion's estimates.
"""

import base64
import json
import os
import platform
import statistics
import sys
import timeit
import uuid

import cryptography
import cryptography.hazmat.backends
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, modes

try:  # recent releases keep TripleDES under "decrepit"
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # older releases
    from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES

# The same inputs as benches/diversify.rs.
MASTER = bytes.fromhex("00112233445566778899aabbccddeeff0102030405060708")
CARD_ID = "bc88f13f-83ba-4037-8262-46eba1291c6e"
CHALLENGE = "1hFD+cz/0so="
# cardadmin's answer for these inputs: cm::authentication_response(.., true). The script checks
# its own answer against it before timing, so both sides are known to do the same job.
EXPECTED = "LvPX9iFUwsM="

REPEAT = 15


def authentication_response(master, card_id, challenge):
    cid = uuid.UUID(card_id).bytes_le
    block = base64.b64decode(challenge, validate=True)
    if len(block) != 8:
        raise ValueError("challenge must decode to 8 bytes")
    key = b""
    for constant in (b"\x31", b"\x32", b"\x33"):
        mac = cmac.CMAC(master)
        mac.update(constant + cid)
        key += mac.finalize()
    encryptor = Cipher(TripleDES(key), modes.ECB()).encryptor()
    answer = encryptor.update(block) + encryptor.finalize()
    return base64.b64encode(answer).decode("ascii")


def self_check():
    # NXP AN10922 3TDEA example: first CMAC over 0x31 || M.
    mac = cmac.CMAC(TripleDES(MASTER))
    mac.update(bytes.fromhex("31" "04782E21801D803042F54E5850"))
    assert mac.finalize().hex().upper() == "2F0DD03675D3FB9A", "CMAC-TDES self-check failed"
    answer = authentication_response(TripleDES(MASTER), CARD_ID, CHALLENGE)
    assert answer == EXPECTED, f"answer {answer} != cardadmin's {EXPECTED}"


def criterion_ns(group, bench):
    """Criterion's mean and median estimates and its fastest sample, in ns per iteration."""
    base = os.path.join("target", "criterion", group, bench, "new")
    try:
        with open(os.path.join(base, "estimates.json")) as f:
            estimates = json.load(f)
        with open(os.path.join(base, "sample.json")) as f:
            sample = json.load(f)
    except OSError:
        return None
    fastest = min(t / n for t, n in zip(sample["times"], sample["iters"]))
    return estimates["mean"]["point_estimate"], estimates["median"]["point_estimate"], fastest


def main():
    self_check()
    master = TripleDES(MASTER)
    timer = timeit.Timer(
        "job(master, card_id, challenge)",
        globals={
            "job": authentication_response,
            "master": master,
            "card_id": CARD_ID,
            "challenge": CHALLENGE,
        },
    )
    number, _ = timer.autorange()
    number *= 5  # at least 1 s per repeat
    runs = [t / number * 1e9 for t in timer.repeat(repeat=REPEAT, number=number)]
    best, median = min(runs), statistics.median(runs)
    print(
        f"python {platform.python_version()}, cryptography {cryptography.__version__}, "
        f"{cryptography.hazmat.backends.default_backend().openssl_version_text()}"
    )
    print(f"python diversified authentication_response: {number} calls x {REPEAT} repeats")
    print(f"  per call: min {best / 1000:.2f} us, median {median / 1000:.2f} us")
    print("  all repeats (us): " + ", ".join(f"{r / 1000:.2f}" for r in runs))

    rust = criterion_ns("authentication_response", "diversified_cardadmin")
    if rust is None:
        print("no criterion result under target/criterion: run `cargo bench --bench diversify` first")
        return 0
    mean, rust_median, fastest = rust
    print(
        "rust (criterion, authentication_response/diversified/cardadmin): "
        f"mean {mean / 1000:.3f} us, median {rust_median / 1000:.3f} us, "
        f"fastest sample {fastest / 1000:.3f} us"
    )
    print(f"  ratio rust median / python median:          {rust_median / median:.3f}")
    print(f"  ratio rust fastest sample / python min:     {fastest / best:.3f}")
    print(f"  ratio rust mean / python min (harshest):    {mean / best:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
