"""A throwaway SMTP server for dawnpost's tests (aiosmtpd), on 127.0.0.1.

Stores every accepted message in a Maildir. Options: STARTTLS with a certificate (or
implicit TLS), AUTH with one user, 550 for chosen recipients, 451 for the first N messages,
no answer to the DATA of message N+1 (once: a client killed while it waits), a delay
before each reply to DATA, and a sink
mode that counts messages without storing them (for benchmarks).
Prints READY when it listens; runs until killed.
"""
import argparse
import mailbox
import ssl
import asyncio
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--maildir", required=True)
p.add_argument("--cert")
p.add_argument("--key")
p.add_argument("--user")
p.add_argument("--password")
p.add_argument("--reject", action="append", default=[])
p.add_argument("--tempfail", type=int, default=0)
p.add_argument("--implicit", action="store_true")
p.add_argument("--hang-after", type=int, default=-1)
p.add_argument("--sink", action="store_true")
p.add_argument("--delay", type=float, default=0.0)
a = p.parse_args()


class Handler:
    def __init__(self):
        self.maildir = mailbox.Maildir(a.maildir, create=True)
        self.tempfail = a.tempfail
        self.stored = 0
        self.hung = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in (r.lower() for r in a.reject):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.tempfail > 0:
            self.tempfail -= 1
            return "451 4.3.0 Try again later"
        if self.stored == a.hang_after and not self.hung:
            self.hung = True
            # Tell the test that the message is on the wire and will not be acknowledged.
            open(a.maildir + "/hung", "w").close()
            # Never answer: the client is killed while it waits for this reply.
            await asyncio.sleep(3600)
        if a.delay:
            await asyncio.sleep(a.delay)
        self.stored += 1
        if not a.sink:
            self.maildir.add(envelope.original_content)
        return "250 Message accepted"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login.decode() == a.user and auth_data.password.decode() == a.password
    # handled=False: aiosmtpd then answers 535 itself (with the default, it answers nothing).
    return AuthResult(success=ok, handled=False)


kwargs = {}
if a.cert:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(a.cert, a.key)
    if a.implicit:
        kwargs.update(ssl_context=ctx)
    else:
        kwargs.update(tls_context=ctx, require_starttls=True)
if a.user:
    kwargs.update(authenticator=authenticate, auth_required=True, auth_require_tls=bool(a.cert) and not a.implicit)
controller = Controller(Handler(), hostname="127.0.0.1", port=a.port, **kwargs)
controller.start()
print("READY", flush=True)
while True:
    time.sleep(3600)
