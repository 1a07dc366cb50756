#!/usr/bin/env python3
"""Card flow vectors recomputed with Python `cryptography` (PyPI), independently of the crate.

Writes card_flows.txt beside this script. Run it in the interop virtualenv, which has
`cryptography` pinned (tests/interop/requirements.txt):

    target/interop-venv/bin/python tests/vectors/card_flows.py

The message shapes are those of NIST SP 800-73-4 part 2 (PIV GENERAL AUTHENTICATE), the GIDS
mutual authentication as issue #11 describes it (MSE SET, R1, R2, 3DES-CBC with a zero IV over
R2 || R1 || Z1), YubiKey SET MANAGEMENT KEY and GIDS PUT KEY; the lengths are computed here,
not copied from any example. The "random" values are fixed so the Rust test can feed the same
bytes to both ends through a scripted generator.
"""
import os

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

ALGORITHMS = {"tdes": (0x03, 24, 8), "aes128": (0x08, 16, 16), "aes192": (0x0A, 24, 16), "aes256": (0x0C, 32, 16)}

KEYS = {
    "tdes": ["010203040506070801020304050607080102030405060708",
             "00112233445566778899aabbccddeeff0102030405060708"],
    "aes128": ["00112233445566778899aabbccddeeff", "000102030405060708090a0b0c0d0e0f"],
    "aes192": ["010203040506070801020304050607080102030405060708",
               "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b"],
    "aes256": ["000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
               "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"],
}


def cipher(name, key):
    if name == "tdes":
        return Cipher(TripleDES(key), modes.ECB())
    return Cipher(algorithms.AES(key), modes.ECB())


def ecb_encrypt(name, key, block):
    enc = cipher(name, key).encryptor()
    return enc.update(block) + enc.finalize()


def cbc_encrypt(name, key, data):
    block = ALGORITHMS[name][2]
    algo = TripleDES(key) if name == "tdes" else algorithms.AES(key)
    enc = Cipher(algo, modes.CBC(bytes(block))).encryptor()
    return enc.update(data) + enc.finalize()


def tlv(tag, value):
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    elif n < 0x100:
        length = bytes([0x81, n])
    else:
        length = bytes([0x82, n >> 8, n & 0xFF])
    return bytes([tag]) + length + value


def pattern(seed, n):
    """Deterministic 'random' bytes: a counter pattern, distinct per seed."""
    return bytes((seed * 37 + i * 11) & 0xFF for i in range(n))


def main():
    lines = [
        "# Card flow vectors (issue #11), recomputed with Python `cryptography` by card_flows.py",
        "# beside this file. Sources of the shapes: NIST SP 800-73-4 part 2 (PIV GENERAL",
        "# AUTHENTICATE with 7C/80/81/82), GIDS mutual authentication (MSE SET, then R1/R2 and",
        "# CBC with a zero IV), YubiKey SET MANAGEMENT KEY, GIDS PUT KEY (PUT DATA 3FFF).",
        "# All hex. Records, one per line:",
        "# piv-single ALG KEY C HOST_DATA",
        "#   card challenge C; HOST_DATA = 7C L 82 n E_K(C)",
        "# piv-mutual ALG KEY W_PLAIN H CARD_WITNESS_DATA HOST_DATA CARD_DATA",
        "#   CARD_WITNESS_DATA = 7C L 80 n E_K(W_PLAIN); HOST_DATA = 7C L 80 n W_PLAIN 81 n H;",
        "#   CARD_DATA = 7C L 82 n E_K(H)",
        "# gids ALG KEY R1 R2 Z1 Z2 HOST_DATA CARD_DATA",
        "#   Z1, Z2 = the random part of the padding (block length - 1 bytes; 80 follows);",
        "#   HOST_DATA = 7C L 82 n CBC_K(R2 || R1 || Z1 || 80); CARD_DATA = 7C L 82 n CBC_K(R1 || R2 || Z2 || 80)",
        "# gids-put-key ALG KEY KCV COMMAND (short APDU)",
        "# yk-set-key ALG KEY TOUCH COMMAND (short APDU; TOUCH = 0 or 1)",
    ]
    for name, (piv_id, key_len, block) in ALGORITHMS.items():
        for index, key_hex in enumerate(KEYS[name]):
            key = bytes.fromhex(key_hex)
            assert len(key) == key_len
            seed = piv_id * 4 + index

            c = pattern(seed, block)
            host = tlv(0x7C, tlv(0x82, ecb_encrypt(name, key, c)))
            lines.append(f"piv-single {name} {key_hex} {c.hex()} {host.hex()}")

            w = pattern(seed + 1, block)
            h = pattern(seed + 2, block)
            card_witness = tlv(0x7C, tlv(0x80, ecb_encrypt(name, key, w)))
            host = tlv(0x7C, tlv(0x80, w) + tlv(0x81, h))
            card = tlv(0x7C, tlv(0x82, ecb_encrypt(name, key, h)))
            lines.append(f"piv-mutual {name} {key_hex} {w.hex()} {h.hex()} {card_witness.hex()} {host.hex()} {card.hex()}")

            r1 = pattern(seed + 3, 16)
            r2 = pattern(seed + 4, 16)
            z1 = pattern(seed + 5, block - 1)
            z2 = pattern(seed + 6, block - 1)
            host = tlv(0x7C, tlv(0x82, cbc_encrypt(name, key, r2 + r1 + z1 + b"\x80")))
            card = tlv(0x7C, tlv(0x82, cbc_encrypt(name, key, r1 + r2 + z2 + b"\x80")))
            lines.append(f"gids {name} {key_hex} {r1.hex()} {r2.hex()} {z1.hex()} {z2.hex()} {host.hex()} {card.hex()}")

            kcv = ecb_encrypt(name, key, bytes(block))[:3]
            body = tlv(0x84, b"\x80") + tlv(0xA5, tlv(0x87, key) + tlv(0x88, kcv))
            command = bytes([0x00, 0xDB, 0x3F, 0xFF, len(body)]) + body
            lines.append(f"gids-put-key {name} {key_hex} {kcv.hex()} {command.hex()}")

            for touch in (0, 1):
                body = bytes([piv_id]) + tlv(0x9B, key)
                command = bytes([0x00, 0xFF, 0xFF, 0xFE if touch else 0xFF, len(body)]) + body
                lines.append(f"yk-set-key {name} {key_hex} {touch} {command.hex()}")

    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "card_flows.txt")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
