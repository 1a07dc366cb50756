"""yubikit's PivSession against the software card in pcscd's virtual reader, over pyscard.

The real stack (issue #17, item 2): yubikit (PyPI yubikey-manager) -> a SmartCardConnection on
pyscard -> libpcsclite -> pcscd -> vpcd -> the soft_card example (started by .ci/run with
--vpcd). Nothing here answers for the card.

The card starts with the 3DES key 010203..08. For each algorithm in turn (tdes, aes128,
aes192, aes256, then back to tdes) this checks that PivSession reads the key's algorithm from
GET METADATA, refuses a wrong key with 63Cx (a try less), authenticates with the right one
(mutual authentication), and sets the next algorithm's key with set_management_key.
It also reads the PIN's tries (VERIFY with no data) and verifies the default PIN.

Usage: python yubikit_pcsc.py "READER NAME"
Prints one line per check and "N passed, M failed"; exit status 1 on any failure.
"""

import sys

from smartcard.System import readers
from yubikit.core import TRANSPORT
from yubikit.core.smartcard import ApduError, SmartCardConnection
from yubikit.piv import MANAGEMENT_KEY_TYPE, PivSession

START = (MANAGEMENT_KEY_TYPE.TDES, bytes.fromhex("010203040506070801020304050607080102030405060708"))
CHAIN = [
    (MANAGEMENT_KEY_TYPE.AES128, bytes.fromhex("00112233445566778899aabbccddeeff")),
    (MANAGEMENT_KEY_TYPE.AES192, bytes.fromhex("0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a09080")),
    (MANAGEMENT_KEY_TYPE.AES256, bytes.fromhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")),
    START,
]


class PcscConnection(SmartCardConnection):
    """A SmartCardConnection on a pyscard reader (what ykman's own PC/SC device does)."""

    def __init__(self, reader_name):
        matching = [r for r in readers() if str(r) == reader_name]
        if not matching:
            raise SystemExit(f"no reader named {reader_name!r}; readers: {[str(r) for r in readers()]}")
        self._connection = matching[0].createConnection()
        self._connection.connect()

    @property
    def transport(self):
        return TRANSPORT.USB

    def send_and_receive(self, apdu):
        data, sw1, sw2 = self._connection.transmit(list(apdu))
        return bytes(data), (sw1 << 8) | sw2

    def close(self):
        self._connection.disconnect()


def main():
    reader = sys.argv[1]
    passed = failed = 0

    def check(name, condition, detail=""):
        nonlocal passed, failed
        if condition:
            passed += 1
            print(f"yubikit/pcsc: ok   {name}")
        else:
            failed += 1
            print(f"yubikit/pcsc: FAIL {name} {detail}")

    connection = PcscConnection(reader)
    try:
        session = PivSession(connection)
        check("GET VERSION through PivSession", tuple(session.version) == (5, 7, 2), str(session.version))
        current = START
        for following in CHAIN:
            kind, key = current
            name = kind.name
            metadata = session.get_management_key_metadata()
            check(f"{name}: GET METADATA names the algorithm", metadata.key_type == kind, str(metadata.key_type))
            wrong = bytes(b ^ 0x22 for b in key)
            try:
                session.authenticate(wrong)
                check(f"{name}: wrong key refused", False, "authenticate succeeded")
            except ApduError as err:
                check(f"{name}: wrong key refused with {err.sw:04X}", (err.sw & 0xFFF0) == 0x63C0, f"{err.sw:04X}")
            session.authenticate(key)
            check(f"{name}: right key authenticates (mutual)", True)
            session.set_management_key(following[0], following[1])
            check(f"{name}: set_management_key to {following[0].name}", True)
            current = following
        tries = session.get_pin_attempts()
        check(f"PIN tries read: {tries}", tries == 3, str(tries))
        session.verify_pin("123456")
        check("default PIN verified", True)
        try:
            session.verify_pin("999999")
            check("wrong PIN refused", False, "verify succeeded")
        except Exception as err:  # yubikit raises InvalidPinError(attempts_remaining)
            check(f"wrong PIN refused ({type(err).__name__}: {err})", "2" in str(err), str(err))
        session.verify_pin("123456")
    except Exception as err:
        check("PivSession over PC/SC", False, f"{type(err).__name__}: {err}")
    finally:
        connection.close()
    print(f"yubikit/pcsc: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
