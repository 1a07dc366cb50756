#!/usr/bin/env python3
"""Independent AN10922 3TDEA diversification, to cross-check cardadmin's.

Writes diversify_crosscheck.txt. Uses pycryptodome (pip install pycryptodome), which shares
no code with the Rust `des` and `cmac` crates. The card ID text is turned into bytes with
Python's uuid.UUID(...).bytes_le, the Windows GUID layout.
"""
import uuid

from Crypto.Cipher import DES3
from Crypto.Hash import CMAC


def odd_parity(byte):
    high = byte & 0xFE
    return high | (bin(high).count("1") % 2 == 0)


def cmac(key, message):
    # DES3 in pycryptodome refuses degenerate keys; the master keys below are not degenerate.
    return CMAC.new(key, message, ciphermod=DES3).digest()


def diversify(master, data):
    raw = b"".join(cmac(master, bytes([c]) + data) for c in (0x31, 0x32, 0x33))
    return bytes(odd_parity(b) for b in raw)


CASES = [
    ("00112233445566778899aabbccddeeff0102030405060708", "bc88f13f-83ba-4037-8262-46eba1291c6e"),
    ("00112233445566778899aabbccddeeff0102030405060708", "35918bc9-196d-40ea-9779-889d79b753f0"),
    ("0123456789abcdef23456789abcdef01456789abcdef0123", "bc88f13f-83ba-4037-8262-46eba1291c6e"),
    ("8aa83bf8cbda10620bc1bf19fbb6cd58bc313d4a371ca8b5", "00000000-0000-0000-0000-000000000000"),
    ("8aa83bf8cbda10620bc1bf19fbb6cd58bc313d4a371ca8b5", "ffffffff-ffff-ffff-ffff-ffffffffffff"),
]
AN10922_M = "04782e21801d803042f54e5850"

with open("diversify_crosscheck.txt", "w") as out:
    out.write("# AN10922 3TDEA diversification, whole 24-byte keys, odd parity applied.\n")
    out.write("# Format: MASTER_KEY_HEX48 CARD_ID_OR_HEX_INPUT DIVERSIFIED_KEY_HEX48\n")
    out.write("# source: computed independently with pycryptodome (CMAC over DES3) by\n")
    out.write("#   tests/vectors/crosscheck_diversify.py; not a published vector. The first line's\n")
    out.write("#   input is AN10922's own example M, whose first 8 bytes match its published first CMAC.\n")
    master = bytes.fromhex("00112233445566778899aabbccddeeff0102030405060708")
    out.write(f"{master.hex()} {AN10922_M} {diversify(master, bytes.fromhex(AN10922_M)).hex()}\n")
    for master_hex, card in CASES:
        key = diversify(bytes.fromhex(master_hex), uuid.UUID(card).bytes_le)
        out.write(f"{master_hex} {card} {key.hex()}\n")
