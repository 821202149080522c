"""A real SMTP server on loopback that keeps what it receives, for the e-mail tests and
the welcome-email walkthrough.

    python3 tests/python/smtp_sink.py --listen 127.0.0.1:2525 --dir /tmp/mail [--refuse-first N]

Every accepted message is written to DIR as one file, NNNN.eml (numbered in arrival
order, continuing after the files already there), written to a temporary name first
and renamed, so that a reader never sees half a message. Two headers are prepended
with the SMTP envelope: `X-Envelope-From` and `X-Envelope-To`.

With `--refuse-first N`, the first N messages are answered `451 4.3.0` (a temporary
failure, "try again later") at the end of DATA and not kept: a well-behaved client
retries them. With `--refuse-after K` as well, the refusals start only after K messages
were accepted (to fail the middle of a batch whose first mails went out).

Prints `SMTP sink listening on HOST:PORT` once it accepts connections (with port 0 the
OS picks a free port; read it from that line), then one line per message.
Runs until killed. Needs `aiosmtpd` (tests/python/requirements.txt; `tests/run.sh`
installs it into target/test-venv).
"""

import argparse
import asyncio
import os
import sys

from aiosmtpd.smtp import SMTP


class Sink:
    """aiosmtpd handler: refuses the first `refuse_first` messages, keeps the rest."""

    def __init__(self, directory, refuse_first, refuse_after):
        self.directory = directory
        self.refuse_first = refuse_first
        self.refuse_after = refuse_after
        self.accepted = 0
        self.refused = 0
        self.next_number = 1 + max(
            (
                int(name[:-4])
                for name in os.listdir(directory)
                if name.endswith(".eml") and name[:-4].isdigit()
            ),
            default=0,
        )

    async def handle_DATA(self, server, session, envelope):
        recipients = ", ".join(envelope.rcpt_tos)
        if self.accepted >= self.refuse_after and self.refused < self.refuse_first:
            self.refused += 1
            print(
                f"refused message {self.refused} of {self.refuse_first} "
                f"(from {envelope.mail_from} to {recipients})",
                flush=True,
            )
            return "451 4.3.0 Temporary failure, try again later (smtp_sink --refuse-first)"
        self.accepted += 1
        number = self.next_number
        self.next_number += 1
        name = f"{number:04d}.eml"
        head = (
            f"X-Envelope-From: {envelope.mail_from}\r\n"
            f"X-Envelope-To: {recipients}\r\n"
        ).encode()
        temporary = os.path.join(self.directory, f".{name}.tmp")
        with open(temporary, "wb") as f:
            f.write(head + envelope.original_content)
        os.replace(temporary, os.path.join(self.directory, name))
        print(f"received {name} from {envelope.mail_from} to {recipients}", flush=True)
        return f"250 2.0.0 OK: queued as {number:04d}"


async def serve(host, port, directory, refuse_first, refuse_after):
    handler = Sink(directory, refuse_first, refuse_after)
    loop = asyncio.get_running_loop()
    # A fixed hostname: the default looks up the machine's FQDN, which can stall on DNS.
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="smtp-sink.local", auth_require_tls=False),
        host=host,
        port=port,
    )
    bound = server.sockets[0].getsockname()
    print(f"SMTP sink listening on {bound[0]}:{bound[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--listen",
        default="127.0.0.1:2525",
        metavar="HOST:PORT",
        help="address to listen on (port 0: any free port)",
    )
    parser.add_argument("--dir", required=True, help="where to write NNNN.eml files")
    parser.add_argument(
        "--refuse-first",
        type=int,
        default=0,
        metavar="N",
        help="answer 451 to the first N messages",
    )
    parser.add_argument(
        "--refuse-after",
        type=int,
        default=0,
        metavar="K",
        help="start the refusals after K accepted messages",
    )
    args = parser.parse_args()
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        parser.error(f"--listen {args.listen!r}: expected HOST:PORT")
    os.makedirs(args.dir, exist_ok=True)
    try:
        asyncio.run(
            serve(host.strip("[]"), int(port), args.dir, args.refuse_first, args.refuse_after)
        )
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
