#!/usr/bin/env python3
"""Another PKCS#11 client (python-pkcs11, not this crate) for the `hsm` CI stage.

It puts master keys into the token with its own templates, so the server is shown to work with
keys it did not create, and it checks the token from outside this crate:

  write  TOKEN LABEL ALG HEX    C_CreateObject of a sign-only, sensitive, non-extractable,
                                unmodifiable, uncopyable key
  generate TOKEN LABEL ALG      C_GenerateKey of the same
  kcv    TOKEN LABEL ALG        the X9.24-1:2017 check value, CMAC(K, 0^block)[:3], by the token
  read   TOKEN LABEL            tries to read CKA_VALUE; prints "refused: AttributeSensitive"
  an10922 TOKEN LABEL ALG GUID  the card's AN10922 key, derived here from the token's CMAC
                                (M = the GUID's 16 bytes in .NET Guid.ToByteArray order; AES-128:
                                CMAC(K, 01||M); AES-192: A = CMAC(K, 11||M), B = CMAC(K, 12||M),
                                A[:8] || A[8:]^B[:8] || B[8:]; AES-256: CMAC(K, 41||M) ||
                                CMAC(K, 42||M); 3DES: CMAC(K, 31||M) || 32 || 33, odd parity),
                                printed in base64 (the diversifiedkey body): a check of the
                                crate's derivation written apart

Module: $PKCS11_MODULE; user PIN: $PKCS11_PIN (never argv). Prints one result line.
"""

import base64
import os
import sys

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass

ALGS = {
    "tdes": (KeyType.DES3, 24, Mechanism.DES3_KEY_GEN, Mechanism.DES3_CMAC, 8),
    "aes128": (KeyType.AES, 16, Mechanism.AES_KEY_GEN, Mechanism.AES_CMAC, 16),
    "aes192": (KeyType.AES, 24, Mechanism.AES_KEY_GEN, Mechanism.AES_CMAC, 16),
    "aes256": (KeyType.AES, 32, Mechanism.AES_KEY_GEN, Mechanism.AES_CMAC, 16),
}


def template(label, key_type):
    return {
        Attribute.CLASS: ObjectClass.SECRET_KEY,
        Attribute.KEY_TYPE: key_type,
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
        Attribute.LABEL: label,
        Attribute.SIGN: True,
        Attribute.VERIFY: True,  # this client's choice; the crate tolerates VERIFY
        Attribute.ENCRYPT: False,
        Attribute.DECRYPT: False,
        Attribute.WRAP: False,
        Attribute.UNWRAP: False,
        Attribute.DERIVE: False,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        # The crate refuses a key that can be widened or copied (issue #24); this client
        # leaves CKA_ALLOWED_MECHANISMS unset, which the crate accepts with a warning.
        Attribute.MODIFIABLE: False,
        Attribute.COPYABLE: False,
    }


def find(session, label):
    return session.get_key(object_class=ObjectClass.SECRET_KEY, label=label)


def cmac(key, mechanism, data):
    return bytes(key.sign(data, mechanism=mechanism))


def odd_parity(data):
    out = bytearray()
    for byte in data:
        high = byte & 0xFE
        out.append(high | (0 if bin(high).count("1") % 2 else 1))
    return bytes(out)


def main():
    lib = pkcs11.lib(os.environ["PKCS11_MODULE"])
    command, token_label = sys.argv[1], sys.argv[2]
    token = lib.get_token(token_label=token_label)
    with token.open(rw=True, user_pin=os.environ["PKCS11_PIN"]) as session:
        if command == "write":
            label, alg, value = sys.argv[3], sys.argv[4], bytes.fromhex(sys.argv[5])
            key_type, length, _, _, _ = ALGS[alg]
            assert len(value) == length
            attrs = template(label, key_type)
            attrs[Attribute.VALUE] = value
            session.create_object(attrs)
            print(f"written {label} {alg}")
        elif command == "generate":
            label, alg = sys.argv[3], sys.argv[4]
            key_type, length, keygen, _, _ = ALGS[alg]
            attrs = template(label, key_type)
            if key_type == KeyType.AES:
                attrs[Attribute.VALUE_LEN] = length
            session.generate_key(key_type, key_length=length * 8, label=label, store=True,
                                 template=attrs, mechanism=keygen)
            print(f"generated {label} {alg}")
        elif command == "kcv":
            label, alg = sys.argv[3], sys.argv[4]
            _, _, _, mac, block = ALGS[alg]
            print(cmac(find(session, label), mac, bytes(block))[:3].hex().upper())
        elif command == "read":
            key = find(session, sys.argv[3])
            try:
                value = key[Attribute.VALUE]
                print(f"READABLE {len(value)} bytes")
            except pkcs11.exceptions.AttributeSensitive:
                print("refused: AttributeSensitive")
        elif command == "an10922":
            label, alg, guid = sys.argv[3], sys.argv[4], bytes.fromhex(sys.argv[5].replace("-", ""))
            m = guid[3::-1] + guid[5:3:-1] + guid[7:5:-1] + guid[8:]
            _, length, _, mac, _ = ALGS[alg]
            key = find(session, label)
            if alg == "tdes":
                out = b"".join(cmac(key, mac, bytes([c]) + m) for c in (0x31, 0x32, 0x33))
                out = odd_parity(out)
            elif alg == "aes128":
                out = cmac(key, mac, b"\x01" + m)
            elif alg == "aes192":
                a, b = cmac(key, mac, b"\x11" + m), cmac(key, mac, b"\x12" + m)
                out = a[:8] + bytes(x ^ y for x, y in zip(a[8:], b[:8])) + b[8:]
            else:
                out = cmac(key, mac, b"\x41" + m) + cmac(key, mac, b"\x42" + m)
            print(base64.b64encode(out).decode())
        else:
            sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
