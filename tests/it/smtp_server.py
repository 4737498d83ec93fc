"""A throwaway SMTP server for dawnpost's tests (aiosmtpd), on 127.0.0.1, that can inject
faults.

Stores every accepted message in a Maildir. Options: STARTTLS with a certificate (or
implicit TLS), AUTH with one user, 550 for chosen recipients, 451 for the first N messages,
no answer to the DATA of message N+1 (once: a client killed while it waits), a delay
before each reply to DATA, and a sink mode that counts messages without storing them (for
benchmarks).

Faults:
  --delay-first CMD=SECS   delay the first reply to MAIL, RCPT or DATA (for DATA the message
                           is stored first: a server that took it but answers late)
  --rcpt-fail ADDR=CODE    answer CODE (4xx or 5xx) to RCPT TO:<ADDR>
  --data-fail ADDR=CODE    answer CODE to the DATA of a message to ADDR
  --drop-in-data N         close the connection, unanswered and unstored, at the DATA of
                           the Nth message (0-based)
  --store-then-delay SECS  store every message and note its recipients in
                           <maildir>/stored.log at once, then wait SECS before the 250
                           (a server that has the message while the client still waits)
  --silent                 accept connections and never say a word
  --no-smtputf8            do not offer SMTPUTF8 (addresses beyond ASCII), which aiosmtpd
                           offers by default
Every reply to DATA is logged as "CODE recipient" in <maildir>/replies.log.
Prints READY when it listens; runs until killed.
"""
import argparse
import logging
import mailbox
import warnings
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
p.add_argument("--delay-first", action="append", default=[])
p.add_argument("--rcpt-fail", action="append", default=[])
p.add_argument("--data-fail", action="append", default=[])
p.add_argument("--drop-in-data", type=int, default=-1)
p.add_argument("--store-then-delay", type=float, default=0.0)
p.add_argument("--silent", action="store_true")
p.add_argument("--no-smtputf8", action="store_true")
a = p.parse_args()

# A test's output should show only what matters: AUTH without TLS is the point of some cases
# (a local relay), and a refused handshake is what the certificate cases expect. Each
# message's reply is logged to replies.log for the tests to read instead.
warnings.filterwarnings("ignore")
logging.getLogger("mail.log").setLevel(logging.CRITICAL)
logging.getLogger("asyncio").setLevel(logging.CRITICAL)

if a.silent:
    import socket

    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", a.port))
    s.listen(64)
    print("READY", flush=True)
    # Never accept: the kernel completes the handshake, nobody ever greets.
    while True:
        time.sleep(3600)


def pairs(items):
    out = {}
    for item in items:
        k, v = item.rsplit("=", 1)
        out[k.lower()] = v
    return out


delay_first = {k.upper(): float(v) for k, v in pairs(a.delay_first).items()}
rcpt_fail = pairs(a.rcpt_fail)
data_fail = pairs(a.data_fail)
REPLY = {"4": "4.0.0 Injected temporary failure", "5": "5.0.0 Injected permanent failure"}


def log_reply(code, rcpts):
    if a.sink:
        return
    with open(a.maildir + "/replies.log", "a") as f:
        f.write(f"{code} {','.join(r.lower() for r in rcpts)}\n")


async def first_delay(cmd):
    secs = delay_first.pop(cmd, None)
    if secs:
        await asyncio.sleep(secs)


class Handler:
    def __init__(self):
        self.maildir = mailbox.Maildir(a.maildir, create=True)
        self.tempfail = a.tempfail
        self.stored = 0
        self.hung = False
        self.datas = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        await first_delay("MAIL")
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        await first_delay("RCPT")
        if address.lower() in (r.lower() for r in a.reject):
            return "550 5.1.1 No such user here"
        code = rcpt_fail.get(address.lower())
        if code:
            return f"{code} {REPLY[code[0]]}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = self.datas
        self.datas += 1
        if n == a.drop_in_data:
            log_reply("dropped", envelope.rcpt_tos)
            server.transport.abort()
            return "250 never seen"
        for r in envelope.rcpt_tos:
            code = data_fail.get(r.lower())
            if code:
                log_reply(code, envelope.rcpt_tos)
                return f"{code} {REPLY[code[0]]}"
        if a.store_then_delay:
            self.maildir.add(envelope.original_content)
            self.stored += 1
            with open(a.maildir + "/stored.log", "a") as f:
                f.write(",".join(r.lower() for r in envelope.rcpt_tos) + "\n")
            await asyncio.sleep(a.store_then_delay)
            log_reply("250", envelope.rcpt_tos)
            return "250 Message accepted, late"
        if "DATA" in delay_first:
            # The message is taken before the late answer: the case a client cannot tell.
            self.maildir.add(envelope.original_content)
            self.stored += 1
            await first_delay("DATA")
            log_reply("250", envelope.rcpt_tos)
            return "250 Message accepted, late"
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
        log_reply("250", envelope.rcpt_tos)
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
if a.no_smtputf8:
    kwargs.update(enable_SMTPUTF8=False)
controller = Controller(Handler(), hostname="127.0.0.1", port=a.port, **kwargs)
controller.start()
print("READY", flush=True)
while True:
    time.sleep(3600)
