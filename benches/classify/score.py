#!/usr/bin/env python3
"""Scores JSON lines (one object per file, the `mailtrail classify --json`
shape) against the corpora's expected tables, the same way
crates/mailtrail-mail/tests/corpus.rs does.

usage: score.py CORPORA_DIR SISIMAI_JSONL [FLUFL_JSONL [NOT_JSONL]]
Recipient n of a file is compared with row `index` n of expected.tsv.
Statuses of the form x.0.9nn / 5.9.2nn are Sisimai's inventions: an expected
one of those counts as "no status given" and matches an empty status.
"""
import json, os, re, sys

def load(path):
    out = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if line:
                o = json.loads(line)
                out[os.path.basename(o["file"])] = o
    return out

def invented(s):
    return bool(re.fullmatch(r"\d\.0\.9\d\d|5\.9\.2\d\d", s or ""))

def score_sisimai(corpora, got):
    rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(corpora, "bounces/sisimai/expected.tsv"))][1:]
    n = len(rows); reason = hard = status = 0
    for file, idx, st, rc, rs, hb, fb in rows:
        recs = got.get(file, {}).get("recipients") or []
        i = int(idx) - 1
        r = recs[i] if i < len(recs) else None
        if r is None:
            continue
        reason += r.get("reason") == rs
        hard += bool(r.get("hard")) == (hb == "true")
        want = "" if invented(st) else st
        have = r.get("status") or ""
        if invented(have):
            have = ""
        status += want == have
    return n, reason, hard, status

def score_flufl(corpora, got):
    want = {}
    for l in list(open(os.path.join(corpora, "bounces/flufl/expected.tsv")))[1:]:
        file, _det, addrs, _tmp = l.rstrip("\n").split("\t")
        s = want.setdefault(file, set())
        s.update(a.lower() for a in addrs.split(",") if a)
    ok = 0
    for file, s in want.items():
        recs = got.get(file, {}).get("recipients") or []
        have = {r["address"].lower() for r in recs if r.get("address")}
        ok += have == s
    return len(want), ok

def pct(a, b):
    return f"{100.0 * a / b:.1f}%" if b else "n/a"

if __name__ == "__main__":
    corpora, sis = sys.argv[1], sys.argv[2]
    n, reason, hard, status = score_sisimai(corpora, load(sis))
    print(f"  sisimai rows: {n}  reason {pct(reason, n)}  hard/soft {pct(hard, n)}  status {pct(status, n)}")
    if len(sys.argv) > 3:
        m, ok = score_flufl(corpora, load(sys.argv[3]))
        print(f"  flufl files: {m}  exact address sets {pct(ok, m)}")
    if len(sys.argv) > 4:
        nots = load(sys.argv[4])
        bad = sum(1 for o in nots.values() if o.get("kind") in ("bounce", "delay"))
        print(f"  not/ files: {len(nots)}  called bounces: {bad}")
