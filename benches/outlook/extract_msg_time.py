"""Times extract-msg (PyPI) reading each .msg of a folder in process, as
benches/outlook/run.sh compares it: open, subject, sender, recipients,
date, plain and HTML body, attachment data; `file<TAB>microseconds`."""
import os
import sys
import time

import extract_msg


def read(path):
    msg = extract_msg.openMsg(path)
    _ = (msg.subject, msg.sender, msg.to, msg.cc, msg.date, msg.body, msg.htmlBody)
    for a in msg.attachments:
        _ = a.data
    msg.close()


def main(folder):
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        try:
            read(path)
        except Exception:
            continue
        runs, start = 0, time.perf_counter()
        while runs < 3 or time.perf_counter() - start < 0.5:
            read(path)
            runs += 1
        print(f"{name}\t{(time.perf_counter() - start) * 1e6 / runs:.1f}")


if __name__ == "__main__":
    main(sys.argv[1])
