"""A real SMTP server for the e-mail tests (aiosmtpd), on 127.0.0.1:PORT.

Prints READY once listening, then one JSON line per message received: the envelope, the
Subject as sent on the wire and decoded, the Message-ID and the decoded text body.
Usage: python3 tests/smtp/sink.py PORT   (needs `pip install aiosmtpd`; .ci/run installs it)
"""
import email
import json
import sys
import time
from email import policy

from aiosmtpd.controller import Controller


class Handler:
    async def handle_DATA(self, server, session, envelope):
        raw = email.message_from_bytes(envelope.content)  # headers as on the wire
        msg = email.message_from_bytes(envelope.content, policy=policy.default)
        body = msg.get_body(preferencelist=("plain",))
        print(json.dumps({
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "raw_subject": str(raw["Subject"]),
            "subject": str(msg["Subject"]),
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "message_id": str(msg["Message-ID"]),
            "content_type": msg.get_content_type(),
            "charset": msg.get_content_charset(),
            "body": body.get_content() if body is not None else None,
        }, ensure_ascii=False), flush=True)
        return "250 Message accepted"


def main():
    port = int(sys.argv[1])
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    print("READY", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
