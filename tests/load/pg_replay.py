#!/usr/bin/env python3
"""Turns the intakes in a PostgreSQL statement log (log_statement = 'all') into pgbench scripts
that run the same statements with fresh ticket ids: the database's own ceiling for the intake's
work, with no HTTP server (docs/benchmarks.md, "The twelfth round"; tests/load/pg_replay.sh).

usage: pg_replay.py LOG DBNAME OUT_DIR [FILES] [BATCH]

Writes OUT_DIR/one_NNN.sql (one intake a transaction, as the server sends it) and
OUT_DIR/batch_NNN.sql (BATCH intakes in one transaction, their hot spots' locks in key order),
FILES of each (default 48, BATCH default 8), drawn at random from the log. Each intake is a
transaction of the server's that wrote a ticket; its parameters are written in as literals,
and the ids it created (the ticket's, its event's, its deadline's, a new alert's) are replaced
by ones drawn from the number the transaction takes, rising as the server's time-ordered ids
do.
"""
import random
import re
import sys
from collections import defaultdict

LINE = re.compile(r"^\S+ \S+ UTC \[(\d+)\] \S+@(\S+) (LOG|DETAIL):  (.*)$")
PARAM = re.compile(r"\$(\d+) = (NULL|'(?:[^']|'')*')")
NEXTVAL = "nextval('ticket_number_seq')"


def read(path, dbname):
    """The statements of each backend of DBNAME in order: (sql, {n: literal})."""
    by_pid = defaultdict(list)
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            m = LINE.match(raw.rstrip("\n"))
            if not m or m.group(2) != dbname:
                continue
            pid, kind, text = m.group(1), m.group(3), m.group(4)
            if kind == "LOG" and text.startswith("statement: "):
                by_pid[pid].append([text[len("statement: "):], {}])
            elif kind == "LOG" and text.startswith("execute "):
                by_pid[pid].append([text.split(": ", 1)[1], {}])
            elif kind == "DETAIL" and text.startswith("parameters: ") and by_pid[pid]:
                by_pid[pid][-1][1] = {int(n): v for n, v in PARAM.findall(text)}
    return by_pid


def transactions(by_pid):
    """The transactions that wrote a ticket, each a list of (sql, params) without BEGIN/COMMIT."""
    out = []
    for statements in by_pid.values():
        current = None
        for sql, params in statements:
            if sql == "BEGIN":
                current = []
            elif sql == "COMMIT" and current is not None:
                if any('INSERT INTO "tickets"' in s for s, _ in current):
                    out.append(current)
                current = None
            elif current is not None:
                current.append((sql, params))
    return out


def literal_sql(sql, params):
    # highest numbers first: $12 before $1; a colon before a letter in a value (JSON's
    # `"confidential":false`) gets a space, else pgbench would read a variable there
    for n in sorted(params, reverse=True):
        sql = sql.replace(f"${n}", re.sub(r":(?=[A-Za-z_\u0080-\uffff])", ": ", params[n]))
    return sql


INSERT = re.compile(r'INSERT INTO "?\w+"? \(([^)]*)\) VALUES \((\$\d+)')


def new_ids(tx):
    """The ids the transaction created: the value of each insert's first column when it is `id`
    (the ticket's, its event's, its deadline's, a new alert's)."""
    ids = []
    for sql, params in tx:
        for m in INSERT.finditer(sql):
            if m.group(1).split(",")[0].strip().strip('"') == "id":
                value = params.get(int(m.group(2)[1:]))
                if value and value not in ids:
                    ids.append(value)
    return ids


def template(tx, k):
    """One intake's statements with its new ids drawn from the number (variable suffix k)."""
    texts = [literal_sql(s, p) for s, p in tx]
    cte = next(t for t in texts if 'INSERT INTO "tickets"' in t)
    number = re.search(r"'HL\d{8}(\d+)'", cte)
    renames = {old: f"(CAST(:tid{k} AS text) || '-{i}')" for i, old in enumerate(new_ids(tx))}
    out, lock = [], None
    for t in texts:
        if NEXTVAL in t:
            lock = re.search(r"pg_advisory_xact_lock\('?(-?\d+)'?\)", t)
            lock = int(lock.group(1)) if lock else None
            # the number and the new ids in the same round trip as the server's number
            t = t.rstrip().removesuffix(";")
            t = (f"SELECT n AS n{k}, 'zz' || lpad(n::text, 14, '0') AS tid{k} FROM ({t}) AS x(n)"
                 f" \\gset")
        else:
            for old, new in renames.items():
                t = t.replace(old, new)
            if number:
                t = t.replace(number.group(0), f"('HL20261206' || lpad(CAST(:n{k} AS text), 8, '0'))")
        out.append(t)
    return out, lock


def script(statements):
    """pgbench's lines: each statement ends with `;`, or with `\\gset` alone."""
    return "".join(t + ("\n" if t.endswith("\\gset") else ";\n") for t in statements)


def main():
    log, dbname, out_dir = sys.argv[1:4]
    files = int(sys.argv[4]) if len(sys.argv) > 4 else 48
    batch = int(sys.argv[5]) if len(sys.argv) > 5 else 8
    txs = transactions(read(log, dbname))
    # not those that filled the server's caches (the calendar, the deadline policy)
    txs = [tx for tx in txs if not any("calendar_years" in s or "deadline_policies" in s
                                       for s, _ in tx)]
    if len(txs) < files * batch:
        sys.exit(f"{len(txs)} intakes in the log: too few")
    # a sample in the log's own mix of shapes (a hot spot's count, a member added, an alert raised)
    chosen = random.Random(1).sample(txs, files * batch)
    for i in range(files):
        body, _ = template(chosen[i], 0)
        with open(f"{out_dir}/one_{i:03}.sql", "w", encoding="utf-8") as f:
            f.write("BEGIN;\n" + script(body) + "COMMIT;\n")
        # the hot spots' locks in key order, as a writer of batches would take them
        group = [template(chosen[i * batch + j], j) for j in range(batch)]
        group.sort(key=lambda g: g[1] if g[1] is not None else 0)
        with open(f"{out_dir}/batch_{i:03}.sql", "w", encoding="utf-8") as f:
            f.write("BEGIN;\n" + "".join(script(b) for b, _ in group) + "COMMIT;\n")
    print(f"{len(txs)} intakes in the log; {files} files of each")


if __name__ == "__main__":
    main()
