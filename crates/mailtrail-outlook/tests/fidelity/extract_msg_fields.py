"""Prints what extract-msg (PyPI) reads from a .msg, as one JSON object:
the fields tests/fidelity.rs compares with mailtrail's conversion."""
import hashlib
import json
import sys

import extract_msg


def attachment(a):
    data = a.data
    if not isinstance(data, (bytes, bytearray)):
        # An embedded message: its bytes are not one stream; compare by name.
        return {"name": a.longFilename or a.shortFilename or "", "size": None, "sha256": None}
    return {
        "name": a.longFilename or a.shortFilename or "",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def main(path):
    msg = extract_msg.openMsg(path)
    html = msg.htmlBody
    out = {
        "subject": msg.subject,
        "sender": msg.sender,
        "to": msg.to,
        "cc": msg.cc,
        "date": msg.date.timestamp() if msg.date else None,
        "body": msg.body,
        "html": html.decode("utf-8", "replace") if isinstance(html, bytes) else html,
        "attachments": [attachment(a) for a in msg.attachments],
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
