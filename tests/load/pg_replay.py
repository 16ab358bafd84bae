#!/usr/bin/env python3
"""Turns the intakes in a PostgreSQL statement log (log_statement = 'all') into pgbench scripts
that run the same statements with fresh ticket ids: the database's own ceiling for the intake's
work, with no HTTP server (docs/benchmarks.md, "The twelfth round"; tests/load/pg_replay.sh).

usage: pg_replay.py LOG DBNAME OUT_DIR [N] [BATCH]

Draws N intakes (default 128) at random from the log and writes them twice: OUT_DIR/one_NNN.sql,
one intake a transaction as the server sent it, and OUT_DIR/batch_NNN.sql, the same intakes
BATCH (default 8) to a transaction, their hot spots' locks taken in key order. Each intake is a
transaction of the server's that wrote a ticket. Its parameters are written in as literals. The
ids it created (the ticket's, its event's, its deadline's) are replaced by ones drawn from the
number the transaction takes, rising as the server's time-ordered ids do, and so is its number.
Intakes that raised a hot-spot alert are left out: replayed, each would raise a new alert and
add every ticket of its window to it, where the server raises an alert once.
"""
import random
import re
import sys
from collections import defaultdict

# Debian's log_line_prefix, '%m [%p] %q%u@%d ': time (any zone), pid, user@database
LINE = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] \S+@(\S+) (LOG|DETAIL):  (.*)$")
STAMP = re.compile(r"^\d{4}-\d\d-\d\d ")
PARAM = re.compile(r"\$(\d+) = (NULL|'(?:[^']|'')*')")
PLACEHOLDER = re.compile(r"\$(\d+)")
# a colon before a letter reads as a pgbench variable (JSON's `"confidential":false`)
VARIABLE_LIKE = re.compile(r":(?=[A-Za-z_]|[^\x00-\x7f])")
INSERT = re.compile(r'INSERT INTO "?\w+"? \(([^)]*)\) VALUES \((\$\d+)')
NUMBER = re.compile(r"'(HL\d{8})\d+'")
NEXTVAL = "nextval('ticket_number_seq')"


def lines(path):
    """The log's entries, a value that spans lines joined back to its entry."""
    entry = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for raw in f:
            raw = raw.rstrip("\n")
            if STAMP.match(raw):
                if entry is not None:
                    yield entry
                entry = raw
            elif entry is not None:
                entry += "\n" + raw
    if entry is not None:
        yield entry


def read(path, dbname):
    """The statements of each backend of DBNAME in order: (sql, {n: literal})."""
    by_pid = defaultdict(list)
    for entry in lines(path):
        m = LINE.match(entry.split("\n", 1)[0])
        if not m or m.group(2) != dbname:
            continue
        pid, kind = m.group(1), m.group(3)
        text = m.group(4) + entry[len(entry.split("\n", 1)[0]):]
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
            elif sql == "ROLLBACK":
                current = None
            elif current is not None:
                current.append((sql, params))
    return out


def literal_sql(sql, params):
    """The statement with its parameters written in, in one pass."""
    def value(m):
        n = int(m.group(1))
        if n not in params:
            sys.exit(f"no value for ${n} in: {sql[:200]}")
        return VARIABLE_LIKE.sub(": ", params[n])
    return PLACEHOLDER.sub(value, sql)


def new_ids(tx):
    """The ids the transaction created: the value of each insert's first column when it is `id`
    (the ticket's, its event's, its deadline's). The server's inserts are of one row each."""
    ids = []
    for sql, params in tx:
        if re.search(r"\),\s*\(\$", sql):
            sys.exit(f"an insert of several rows, whose later ids would not be renamed: {sql[:200]}")
        for m in INSERT.finditer(sql):
            if m.group(1).split(",")[0].strip().strip('"') == "id":
                value = params.get(int(m.group(2)[1:]))
                if value and value not in ids:
                    ids.append(value)
    return ids


def template(tx, k):
    """One intake's statements with its new ids and number drawn from the number (variable
    suffix k), and the key of the hot spot's lock it takes."""
    texts = [literal_sql(s, p) for s, p in tx]
    cte = next(t for t in texts if 'INSERT INTO "tickets"' in t)
    number = NUMBER.search(cte)
    if not number or not any(NEXTVAL in t for t in texts):
        sys.exit("an intake without its number: is this the server's PostgreSQL log?")
    renames = {old: f"(CAST(:tid{k} AS text) || '-{i}')" for i, old in enumerate(new_ids(tx))}
    renames[number.group(0)] = f"('{number.group(1)}' || lpad(CAST(:n{k} AS text), 8, '0'))"
    out, lock = [], None
    for t in texts:
        if NEXTVAL in t:
            found = re.search(r"pg_advisory_xact_lock\('?(-?\d+)'?\)", t)
            lock = int(found.group(1)) if found else None
            # the number and the new ids in the same round trip as the server's number
            t = (f"SELECT n AS n{k}, 'zz' || lpad(n::text, 14, '0') AS tid{k} "
                 f"FROM ({t.rstrip().removesuffix(';')}) AS x(n) \\gset")
        else:
            for old, new in renames.items():
                t = t.replace(old, new)
        out.append(t)
    return out, lock


def script(statements):
    """pgbench's lines: each statement ends with `;`, or with `\\gset` alone."""
    return "".join(t + ("\n" if t.endswith("\\gset") else ";\n") for t in statements)


def main():
    log, dbname, out_dir = sys.argv[1:4]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 128
    batch = int(sys.argv[5]) if len(sys.argv) > 5 else 8
    txs = transactions(read(log, dbname))
    # not those that filled the server's caches (the calendar, the deadline policy) or raised
    # an alert
    kept = [tx for tx in txs if not any(
        "calendar_years" in s or "deadline_policies" in s or 'INSERT INTO "hotspot_alerts"' in s
        for s, _ in tx)]
    if len(kept) < n or n % batch:
        sys.exit(f"{len(kept)} intakes to draw {n} from (in batches of {batch}): too few")
    chosen = random.Random(1).sample(kept, n)
    for i, tx in enumerate(chosen):
        body, _ = template(tx, 0)
        with open(f"{out_dir}/one_{i:03}.sql", "w", encoding="utf-8") as f:
            f.write("BEGIN;\n" + script(body) + "COMMIT;\n")
    for i in range(n // batch):
        # the hot spots' locks in key order, as a writer of batches would take them
        group = [template(chosen[i * batch + j], j) for j in range(batch)]
        group.sort(key=lambda g: g[1] if g[1] is not None else 0)
        with open(f"{out_dir}/batch_{i:03}.sql", "w", encoding="utf-8") as f:
            f.write("BEGIN;\n" + "".join(script(b) for b, _ in group) + "COMMIT;\n")
    print(f"{len(txs)} intakes in the log, {len(txs) - len(kept)} left out; "
          f"{n} drawn: {n} files one a transaction, {n // batch} of {batch}")


if __name__ == "__main__":
    main()
