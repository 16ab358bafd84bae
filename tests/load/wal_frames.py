#!/usr/bin/env python3
"""Counts the frames (pages written) and commits in a SQLite WAL file, and the pages by table or
index when given the database too (through SQLite's `dbstat`, slow on a large file).

usage: tests/load/wal_frames.py FILE-wal [DATABASE]   (docs/benchmarks.md, "The sixth round")
"""
import collections
import sqlite3
import struct
import sys

data = open(sys.argv[1], "rb").read()
page_size = struct.unpack(">I", data[8:12])[0]
pages, commits, offset = [], 0, 32
while offset + 24 + page_size <= len(data):
    page, commit = struct.unpack(">II", data[offset:offset + 8])
    pages.append(page)
    commits += commit != 0
    offset += 24 + page_size
print(f"frames {len(pages)}, commits {commits}, frames a commit {len(pages) / max(commits, 1):.1f}")
if len(sys.argv) > 2:
    db = sqlite3.connect(f"file:{sys.argv[2]}?mode=ro", uri=True)
    counts = collections.Counter(pages)
    names = dict(db.execute("SELECT pageno, name FROM dbstat"))
    by_name = collections.Counter()
    for page, n in counts.items():
        by_name[names.get(page, "(new or free page)")] += n
    for name, n in by_name.most_common():
        print(f"{n:6d}  {name}")
