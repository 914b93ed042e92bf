#!/usr/bin/env python3
"""What SQLite itself allows for the ledger's statements, with no Rust or sqlx in between.

Runs the statements of one freeze + settle pair N times through Python's sqlite3, as the ledger
sends them when it needs nothing read (a freeze in one round trip; the settle of a hold it froze):
the real schema from migrations/, 1 KiB pages, WAL and synchronous=NORMAL like Fitroom, values
bound so that each statement is compiled once, the way the driver caches them. Beside it, the
benchmark's SQLite ceiling (BEGIN; UPDATE counter; COMMIT). Prints the time per statement, the
WAL frames (pages copied into the log) per pair, and both rates.
Usage: python3 scripts/bench-sqlite-engine.py [N]
"""
import collections, glob, os, re, sqlite3, sys, tempfile, time, uuid

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA = "".join(open(p).read() for p in sorted(glob.glob(os.path.join(ROOT, "migrations", "*.sql"))))
STATEMENTS = open(os.path.join(ROOT, "server", "src", "ledger", "statements.rs")).read()
spent = collections.Counter()


def statement(name):
    """A statement of the ledger's catalogue, with its `$n` parameters as SQLite's `?n`."""
    body = re.search(rf"\b{name} = (.*?);\n", STATEMENTS, re.S).group(1)
    macros = {
        "free!()": '"(granted - consumed - held - expired - refunded)"',
    }
    for macro, text in macros.items():
        body = body.replace(macro, text)
    # active!("$u", "$now"): the user's spendable packages.
    body = re.sub(
        r'active!\("(\$\d)", "(\$\d)"\)',
        lambda m: '"(SELECT id, (granted - consumed - held - expired - refunded) AS free, expires_at, granted_at '
        f'FROM credit_packages WHERE user_id = {m.group(1)} AND (granted - consumed - held - expired - refunded) > 0 '
        f'AND (expires_at IS NULL OR expires_at > {m.group(2)}))"',
        body,
    )
    text = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', body, re.S))
    # A `\` ends a line inside a Rust string literal: the line break and the indentation go.
    return re.sub(r"\\\n\s*", "", text).replace("$", "?")


def connect(path):
    c = sqlite3.connect(path, isolation_level=None)
    c.execute("PRAGMA page_size = 1024")
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "wal_autocheckpoint=0"):
        c.execute(f"PRAGMA {pragma}")
    return c


def run(c, name, sql, values=()):
    started = time.perf_counter()
    c.execute(sql, values).fetchall()
    spent[name] += time.perf_counter() - started


def uid():
    # Time-ordered like the ledger's UUIDv7 ids: appends to the end of each index.
    return f"{time.time_ns():020d}{uuid.uuid4().hex[:12]}"


names = ["LOCK_USER_QUIETLY", "FREEZE_HOLD", "FREEZE_ALLOCATE", "FREEZE_RESERVE",
         "SETTLE_FROM_PACKAGE", "INSERT_ENTRY_UNDER_LOCK", "RESOLVE_HOLD"]
sql = {n: statement(n) for n in names}

with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "ledger.db")
    c = connect(path)
    c.executescript(SCHEMA)
    users = [f"usr_{i:02d}" for i in range(8)]
    for u in users:
        c.execute("INSERT INTO users (id, email, password_hash, created_at) VALUES (?, ?, 'x', 0)", (u, f"{u}@x"))
        for k, expires in enumerate([None, 9_000_000_000_000, 8_000_000_000_000]):
            c.execute("INSERT INTO credit_packages (id, user_id, name, granted, granted_at, expires_at) "
                      "VALUES (?, ?, 'n', 1000000000, ?, ?)", (f"pkg_{u}_{k}", u, k, expires))
    jobs = [uid() for _ in range(N)]
    c.execute("BEGIN")
    for i, j in enumerate(jobs):
        c.execute("INSERT INTO jobs (id, user_id, status, cost, provider, created_at, updated_at) "
                  "VALUES (?, ?, 'queued', 1, 'b', 0, 0)", (j, users[i % 8]))
    c.execute("COMMIT")
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    now, deadline = 1_000, 10_000_000_000_000
    started = time.time()
    for i, j in enumerate(jobs):
        u, h = users[i % 8], uid()
        run(c, "BEGIN", "BEGIN")
        run(c, "LOCK_USER_QUIETLY", sql["LOCK_USER_QUIETLY"], (u,))
        run(c, "FREEZE_HOLD", sql["FREEZE_HOLD"], (h, u, j, j, 1, now, deadline))
        run(c, "FREEZE_ALLOCATE", sql["FREEZE_ALLOCATE"], (uid() + "_", u, 0, now, h, j, 1))
        run(c, "FREEZE_RESERVE", sql["FREEZE_RESERVE"], (u, h))
        run(c, "COMMIT", "COMMIT")
        package = f"pkg_{u}_2"
        run(c, "BEGIN", "BEGIN")
        run(c, "LOCK_USER_QUIETLY", sql["LOCK_USER_QUIETLY"], (u,))
        run(c, "SETTLE_FROM_PACKAGE", sql["SETTLE_FROM_PACKAGE"], (package, 1))
        run(c, "INSERT_ENTRY_UNDER_LOCK", sql["INSERT_ENTRY_UNDER_LOCK"],
            (uid(), u, 1, now, "settle", 1, package, h, j, None))
        run(c, "RESOLVE_HOLD", sql["RESOLVE_HOLD"], (h, "settled", now))
        run(c, "COMMIT", "COMMIT")
    pairs = N / (time.time() - started)
    frames = (os.path.getsize(path + "-wal") - 32) / (1024 + 24) / N
    held = c.execute("SELECT SUM(held), SUM(consumed) FROM credit_packages").fetchone()
    assert held == (0, N), f"every freeze settled: held/consumed {held}"

    k = connect(os.path.join(d, "counter.db"))
    k.execute("CREATE TABLE counter (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)")
    k.execute("INSERT INTO counter VALUES (1, 0)")
    started = time.time()
    for _ in range(2 * N):
        k.execute("BEGIN"); k.execute("UPDATE counter SET n = n + 1 WHERE id = 1"); k.execute("COMMIT")
    ceiling = 2 * N / (time.time() - started)

for kind, seconds in spent.most_common():
    print(f"{seconds * 1e6 / N:8.1f} µs per pair  {kind}")
print(f"WAL frames per pair {frames:.1f}")
print(f"freeze+settle pairs/s {pairs:.0f}; ceiling tx/s {ceiling:.0f}; {100 * pairs / ceiling:.0f} % of the ceiling")
