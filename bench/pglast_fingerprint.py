#!/usr/bin/env python3
"""The peer in bench/fingerprint.sh: libpg_query's fingerprint through pglast.

Reads the same file as `pgadvisor fingerprint`, splits it with libpg_query's
own scanner, fingerprints each statement and writes one JSON object per
line (like `--format jsonl`), so both sides do the whole job. With
--fingerprint-only it skips pglast's normalize (the fastest peer setting;
our output always carries both).
usage: pglast_fingerprint.py [--fingerprint-only] FILE > out.jsonl
"""
import json
import sys

from pglast.parser import fingerprint, normalize, split

def main():
    args = sys.argv[1:]
    only = "--fingerprint-only" in args
    path = [a for a in args if a != "--fingerprint-only"][0]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    out = sys.stdout
    write = out.write
    dumps = json.dumps
    for stmt in split(text, with_parser=False):
        try:
            fp = fingerprint(stmt)
            norm = None if only else normalize(stmt)
            fallback = False
        except Exception:
            fp, norm, fallback = None, stmt, True
        write(dumps({"fingerprint": fp, "normalized": norm, "fallback": fallback}))
        write("\n")

if __name__ == "__main__":
    main()
