"""The Python library `standardwebhooks` verifying latchkey's webhooks as a receiver would:
`python verify_webhooks.py PORT SECRET...` listens on 127.0.0.1:PORT for the `audit.signup`
webhook of a server signing with every SECRET. The first delivery is answered 500, so the retry is
checked too: it must carry the same webhook-id and body. Every delivery must verify with each
SECRET, and be refused with another secret, with a changed body and with a changed timestamp.
Exits 0 once the retry is taken, 1 at the first failure or after 60 s without a retry."""

import base64
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

port = int(sys.argv[1])
secrets = sys.argv[2:]
assert secrets, "give the secrets the server signs with"
wrong = "whsec_" + base64.b64encode(os.urandom(32)).decode()
done = threading.Event()
failures = []
seen = []


def refused(secret, body, headers):
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return True
    return False


def check(body, headers):
    """What is wrong with one delivery, or None."""
    for secret in secrets:
        try:
            payload = Webhook(secret).verify(body, headers)
        except WebhookVerificationError as error:
            return f"a delivery does not verify with a configured secret: {error}"
        if payload.get("type") != "audit.signup" or "data" not in payload:
            return f"unexpected payload: {payload}"
    if not refused(wrong, body, headers):
        return "a delivery VERIFIED with a secret the server does not hold"
    if not refused(secrets[0], body + b" ", headers):
        return "a changed body VERIFIED"
    later = dict(headers, **{"webhook-timestamp": str(int(headers["webhook-timestamp"]) + 1)})
    if not refused(secrets[0], body, later):
        return "a changed timestamp VERIFIED"
    return None


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {name.lower(): value for name, value in self.headers.items()}
        problem = check(body, headers)
        seen.append((headers.get("webhook-id"), body))
        if problem is None and len(seen) > 1 and seen[-1] != seen[0]:
            problem = "the retry differs from the first attempt (webhook-id or body)"
        if problem is not None:
            failures.append(problem)
            done.set()
        first = len(seen) == 1
        self.send_response(500 if first else 204)
        self.end_headers()
        if not first:
            done.set()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", port), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()
finished = done.wait(60)
server.shutdown()
if failures:
    print(f"standardwebhooks: {failures[0]}")
    sys.exit(1)
if not finished:
    print(f"standardwebhooks: {len(seen)} deliveries in 60 s, expected a first attempt and a retry")
    sys.exit(1)
print(f"standardwebhooks: {len(seen)} deliveries verified with {len(secrets)} secrets")
