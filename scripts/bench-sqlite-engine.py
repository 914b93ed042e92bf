#!/usr/bin/env python3
"""What SQLite itself allows for the ledger's statements, with no Rust or sqlx in between.

Runs the statements of one freeze + settle pair (as the ledger sends them, on the real schema from
migrations/, WAL and synchronous=NORMAL like Fitroom) N times through Python's sqlite3, beside the
benchmark's SQLite ceiling (BEGIN; UPDATE counter; COMMIT), and prints the time per statement kind.
Usage: python3 scripts/bench-sqlite-engine.py [N]
"""
import collections, glob, os, sqlite3, sys, tempfile, time, uuid

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA = "".join(open(p).read() for p in sorted(glob.glob(os.path.join(ROOT, "migrations", "*.sql"))))
spent = collections.Counter()


def connect(path):
    c = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        c.execute(f"PRAGMA {pragma}")
    return c


def run(c, script):
    for statement in script.split(";"):
        if statement.strip():
            started = time.perf_counter()
            c.execute(statement).fetchall()
            spent[" ".join(statement.split()[:3])] += time.perf_counter() - started


def uid():
    # Time-ordered like the ledger's UUIDv7 ids: appends to the end of each index.
    return f"{time.time_ns():020d}{uuid.uuid4().hex[:12]}"


with tempfile.TemporaryDirectory() as d:
    c = connect(os.path.join(d, "ledger.db"))
    c.executescript(SCHEMA)
    c.execute("INSERT INTO users (id, email, password_hash, created_at) VALUES ('u', 'u@x', 'x', 0)")
    c.execute("INSERT INTO credit_packages (id, user_id, name, granted, granted_at) VALUES ('p', 'u', 'n', 1000000000, 0)")
    jobs = [uid() for _ in range(N)]
    c.execute("BEGIN")
    for j in jobs:
        c.execute("INSERT INTO jobs (id, user_id, status, cost, provider, created_at, updated_at) VALUES (?, 'u', 'queued', 1, 'b', 0, 0)", (j,))
    c.execute("COMMIT")
    started = time.time()
    for i, j in enumerate(jobs):
        h = uid()
        run(c, f"BEGIN; UPDATE users SET ledger_seq = ledger_seq + 1 WHERE id = 'u' RETURNING id, ledger_seq;"
               f"SELECT id FROM holds WHERE user_id = 'u' AND idempotency_key = '{j}';"
               "SELECT id, granted - consumed - held - expired - refunded, expires_at FROM credit_packages WHERE user_id = 'u'")
        run(c, f"UPDATE credit_packages SET held = held + 1 WHERE id = 'p';"
               f"INSERT INTO holds (id, user_id, job_id, idempotency_key, amount, state, created_at, deadline_at) VALUES ('{h}', 'u', '{j}', '{j}', 1, 'open', 0, 9);"
               f"INSERT INTO hold_allocations (hold_id, package_id, amount) VALUES ('{h}', 'p', 1);"
               f"INSERT INTO ledger_entries (id, user_id, seq, line, at, kind, amount, package_id, hold_id, job_id) VALUES ('{uid()}', 'u', {2 * i + 1}, 1, 0, 'freeze', 1, 'p', '{h}', '{j}');"
               "COMMIT")
        run(c, f"BEGIN; UPDATE users SET ledger_seq = ledger_seq + 1 WHERE id = (SELECT user_id FROM holds WHERE id = '{h}');"
               f"SELECT h.id FROM holds h JOIN hold_allocations a ON a.hold_id = h.id JOIN credit_packages p ON p.id = a.package_id WHERE h.id = '{h}'")
        run(c, "UPDATE credit_packages SET held = held - 1, consumed = consumed + 1 WHERE id = 'p';"
               f"INSERT INTO ledger_entries (id, user_id, seq, line, at, kind, amount, package_id, hold_id, job_id) VALUES ('{uid()}', 'u', {2 * i + 2}, 1, 0, 'settle', 1, 'p', '{h}', '{j}');"
               f"UPDATE holds SET state = 'settled', resolved_at = 1 WHERE id = '{h}' AND state = 'open';"
               "COMMIT")
    pairs = N / (time.time() - started)

    k = connect(os.path.join(d, "counter.db"))
    k.execute("CREATE TABLE counter (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)")
    k.execute("INSERT INTO counter VALUES (1, 0)")
    started = time.time()
    for _ in range(2 * N):
        k.execute("BEGIN"); k.execute("UPDATE counter SET n = n + 1 WHERE id = 1"); k.execute("COMMIT")
    ceiling = 2 * N / (time.time() - started)

for kind, seconds in spent.most_common():
    print(f"{seconds * 1e6 / N:8.1f} µs per pair  {kind}")
print(f"freeze+settle pairs/s {pairs:.0f}; ceiling tx/s {ceiling:.0f}; {100 * pairs / ceiling:.0f} % of the ceiling")
