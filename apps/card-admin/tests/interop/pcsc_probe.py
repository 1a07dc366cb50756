"""Another PC/SC application beside card-admin, for the realstack stage of .ci/run.

It plays the two parties card-admin must not let in: another PC/SC application (through
pyscard's raw SCard calls) and a hostile server.

  pcsc_probe.py server PORT READER
      A MIM CM-shaped server on 127.0.0.1:PORT that, when card-admin's enrollment asks it for
      something (card-admin is then in the middle of its flow: it has selected PIV and read
      the card's ID, and holds the card until the flow ends), sends SELECT PIV to the card
      from this other application and prints what became of it ("interleaved: ..."), then
      answers:
        - a path under /redirect: 302 to http://0.0.0.0:PORT+1/... (nothing listens there;
          card-admin must not follow it);
        - anything else: 500 with a message full of terminal control sequences (card-admin
          must print the words, not the controls).

Everything here talks to 127.0.0.1 and the local pcscd only. Standard library and pyscard.
"""

import http.server
import json
import sys
import threading
import time

from smartcard import scard

SELECT_PIV = [0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08]
# An OSC title change, a CSI clear screen, a C1 CSI (U+009B) colour, a bare CR and LF, a NUL,
# a DEL and a BEL around the words card-admin should show.
HOSTILE_MESSAGE = (
    "\x1b]0;owned\x07\x1b[2J\x9b31mrequest refused\r\n\x00forged line\x7f\x07 by policy\x1b[0m"
)


def check(result, what):
    if result != scard.SCARD_S_SUCCESS:
        raise SystemExit(f"pcsc_probe: {what}: {scard.SCardGetErrorMessage(result)}")


def connect(reader):
    result, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    check(result, "establish context")
    result, card, _protocol = scard.SCardConnect(
        context, reader, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
    )
    check(result, f"connect to {reader}")
    return context, card


def interleave(reader):
    """SELECT PIV from this application: what pcscd did with it within 3 seconds. pcscd holds
    back another application's commands while a transaction runs, so "blocked" is the answer
    when card-admin holds one (the command goes through once card-admin's transaction ends,
    after this server has answered)."""
    outcome = []

    def send():
        context, card = connect(reader)
        try:
            result, response = scard.SCardTransmit(card, scard.SCARD_PCI_T1, SELECT_PIV)
            if result != scard.SCARD_S_SUCCESS:
                outcome.append("refused: " + scard.SCardGetErrorMessage(result))
            else:
                outcome.append("sent, the card answered %02X%02X" % (response[-2], response[-1]))
        finally:
            scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
            scard.SCardReleaseContext(context)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    thread.join(3)
    return outcome[0] if outcome else "blocked for 3 s (another application holds the card)"


def server(port, reader):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            print("interleaved: " + interleave(reader), flush=True)
            if self.path.startswith("/redirect"):
                self.send_response(302)
                self.send_header("Location", f"http://0.0.0.0:{port + 1}{self.path}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = json.dumps({"Message": HOSTILE_MESSAGE}, ensure_ascii=False).encode()
            self.send_response(500)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", port), Handler)
    print("listening", flush=True)
    # Bounded: it stops by itself after a minute.
    httpd.timeout = 1
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        httpd.handle_request()


def main(argv):
    if len(argv) == 3 and argv[0] == "server":
        server(int(argv[1]), argv[2])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
