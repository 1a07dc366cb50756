"""Drive cardadmin's software card with Yubico's yubikit (PyPI yubikey-manager).

Proof against code nobody here wrote (issue #11, item 4): yubikit's own PivSession talks to
the software card through the `soft_card` bridge example, over a SmartCardConnection that
writes one command APDU per line as hex to the bridge's standard input and reads one response
per line (data, then SW1 SW2) from its standard output.

For each algorithm (tdes, aes128, aes192, aes256) and each transport (USB: yubikit switches to
extended APDUs after GET VERSION; NFC: short APDUs), checks that:
- PivSession reads the key's algorithm from GET METADATA (management_key_type);
- PivSession.authenticate(right key) succeeds (PIV mutual authentication);
- PivSession.authenticate(wrong key) fails, and the failure costs a try (63Cx);
- after authentication, set_management_key changes the key: the old key then fails and the
  new one succeeds.
and that three wrong keys block the card (6983), after which even the right key fails; and, with
the bridge's `--wrong-key-sw 6982` (a YubiKey's answer), that wrong keys answer 6982 with no
counter, so the right key still succeeds after five wrong ones.

Usage: python yubikit_soft_card.py PATH/TO/soft_card
Prints one line per check and ends with "N passed, M failed"; exit status 1 on any failure.
"""

import subprocess
import sys

from yubikit.core import TRANSPORT
from yubikit.core.smartcard import ApduError, SmartCardConnection
from yubikit.piv import MANAGEMENT_KEY_TYPE, PivSession

KEYS = {
    "tdes": (MANAGEMENT_KEY_TYPE.TDES, bytes.fromhex("010203040506070801020304050607080102030405060708")),
    "aes128": (MANAGEMENT_KEY_TYPE.AES128, bytes.fromhex("00112233445566778899aabbccddeeff")),
    "aes192": (MANAGEMENT_KEY_TYPE.AES192, bytes.fromhex("010203040506070801020304050607080102030405060708")),
    "aes256": (
        MANAGEMENT_KEY_TYPE.AES256,
        bytes.fromhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
    ),
}


class BridgeConnection(SmartCardConnection):
    """A SmartCardConnection over the soft_card bridge's pipes."""

    def __init__(self, binary, algorithm, key, transport, extra=()):
        self._transport = transport
        self.log = []
        self._process = subprocess.Popen(
            [binary, "--algorithm", algorithm, "--key", key.hex(), *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    @property
    def transport(self):
        return self._transport

    def send_and_receive(self, apdu):
        self._process.stdin.write(apdu.hex() + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline().strip()
        if not line:
            raise IOError("the bridge closed its output")
        response = bytes.fromhex(line)
        self.log.append((apdu.hex(), line))
        return response[:-2], int.from_bytes(response[-2:], "big")

    def close(self):
        self._process.stdin.close()
        self._process.wait(timeout=10)


def flipped(key):
    """A wrong key of the same length: every byte changed in more than its parity bit."""
    return bytes(b ^ 0x22 for b in key)


def main():
    binary = sys.argv[1]
    passed = failed = 0

    def check(name, condition, detail=""):
        nonlocal passed, failed
        if condition:
            passed += 1
            print(f"ok   {name}")
        else:
            failed += 1
            print(f"FAIL {name} {detail}")

    for algorithm, (key_type, key) in KEYS.items():
        for transport in (TRANSPORT.USB, TRANSPORT.NFC):
            label = f"{algorithm} {transport.value}"
            conn = BridgeConnection(binary, algorithm, key, transport)
            try:
                session = PivSession(conn)
                check(f"{label}: GET METADATA gives the key type", session.management_key_type == key_type,
                      f"got {session.management_key_type!r}")

                try:
                    session.authenticate(key)
                    check(f"{label}: authenticate with the right key succeeds", True)
                except Exception as e:  # noqa: BLE001
                    check(f"{label}: authenticate with the right key succeeds", False, repr(e))

                try:
                    session.authenticate(flipped(key))
                    check(f"{label}: authenticate with a wrong key fails", False, "it succeeded")
                except ApduError as e:
                    check(f"{label}: authenticate with a wrong key fails (63C2)", e.sw == 0x63C2, hex(e.sw))

                # Authenticate again (resets the counter), then change the key.
                session.authenticate(key)
                new_key = flipped(key)
                session.set_management_key(key_type, new_key)
                try:
                    session.authenticate(key)
                    check(f"{label}: old key refused after set_management_key", False, "it succeeded")
                except ApduError:
                    check(f"{label}: old key refused after set_management_key", True)
                try:
                    session.authenticate(new_key)
                    check(f"{label}: new key accepted after set_management_key", True)
                except Exception as e:  # noqa: BLE001
                    check(f"{label}: new key accepted after set_management_key", False, repr(e))

                if transport == TRANSPORT.USB:
                    extended = any(apdu.startswith("0087") and apdu[10:12] == "00" for apdu, _ in conn.log)
                    check(f"{label}: yubikit used extended APDUs", extended)
                else:
                    short = all(not (apdu.startswith("0087") and apdu[8:10] == "00") for apdu, _ in conn.log)
                    check(f"{label}: yubikit used short APDUs", short)
            finally:
                conn.close()

        # Blocking: three wrong keys, then even the right one is refused with 6983.
        conn = BridgeConnection(binary, algorithm, key, TRANSPORT.USB)
        try:
            session = PivSession(conn)
            codes = []
            for _ in range(3):
                try:
                    session.authenticate(flipped(key))
                except ApduError as e:
                    codes.append(e.sw)
            check(f"{algorithm}: three wrong keys answer 63C2 63C1 63C0", codes == [0x63C2, 0x63C1, 0x63C0],
                  str([hex(c) for c in codes]))
            try:
                session.authenticate(key)
                check(f"{algorithm}: blocked key refuses the right key (6983)", False, "it succeeded")
            except ApduError as e:
                check(f"{algorithm}: blocked key refuses the right key (6983)", e.sw == 0x6983, hex(e.sw))
        finally:
            conn.close()

        # The YubiKey-like mode (issue #14, item 3): a wrong key answers 6982, as a YubiKey
        # does, with no counter: five wrong keys, then the right one still authenticates.
        conn = BridgeConnection(binary, algorithm, key, TRANSPORT.USB, ("--wrong-key-sw", "6982"))
        try:
            session = PivSession(conn)
            codes = []
            for _ in range(5):
                try:
                    session.authenticate(flipped(key))
                except ApduError as e:
                    codes.append(e.sw)
            check(f"{algorithm}: --wrong-key-sw 6982: five wrong keys answer 6982", codes == [0x6982] * 5,
                  str([hex(c) for c in codes]))
            try:
                session.authenticate(key)
                check(f"{algorithm}: --wrong-key-sw 6982: no counter, the right key still succeeds", True)
            except Exception as e:  # noqa: BLE001
                check(f"{algorithm}: --wrong-key-sw 6982: no counter, the right key still succeeds", False, repr(e))
        finally:
            conn.close()

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
