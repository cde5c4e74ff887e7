"""A hall store's backlog made in a few large SQLite transactions: n consultations, written as
hall-write writes them (a `cases` row, its 'received' event, its outbox record with the
payload lib/core/record.c makes), only far faster than n HTTP submissions. For the
benchmarks and tests that need a backlog of 100,000 or 1,000,000 records, where the HTTP
path would take the best part of an hour; what hall-write itself costs is measured apart.

Case numbers are real ones (lib/core/caseno.c: the hall code, ten base-31 symbols of the
store's record sequence, the check character), numbered after meta last_seq, which moves
on as store_next_seq would, so a later hall write never reuses one. The query MAC has the
shape of the real one (64 hex digits) but is not keyed: nothing on the sync path checks it.

    python3 tests/bench/bulkfill.py STORE N
"""
import hashlib
import json
import sqlite3
import sys
import time

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTVWXY"
CASENO_LEN = 23
SUBJECT = "城乡居民养老保险缴费档次咨询"
BODY = "请问今年城乡居民基本养老保险的缴费档次有哪些？在哪里缴费？"
ITEM = "城乡居民养老保险参保登记"
CST_OFFSET = 8 * 3600
CHUNK = 50000  # records to a transaction (a multiple of the 10,000 of each executemany)


def caseno(hall, seq):
    """lib/core/caseno.c's caseno_make."""
    digits = []
    for _ in range(10):
        digits.append(ALPHABET[seq % 31])
        seq //= 31
    if seq:
        raise ValueError("sequence past the format")
    s = hall + "".join(reversed(digits))
    total, w = 0, 1
    # weights 3^(22-i) mod 31: position 22 (the check) has weight 1
    for i in range(CASENO_LEN - 1, -1, -1):
        if i < CASENO_LEN - 1:
            total = (total + ALPHABET.index(s[i]) * w) % 31
        w = w * 3 % 31
    return s + ALPHABET[(31 - total) % 31]


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(t + CST_OFFSET))


def fill(store, n):
    """Adds n consultations to the store at path store, CHUNK to a transaction: one
    transaction for a million would leave a WAL of a gigabyte (each commit lets SQLite's
    autocheckpoint fold it back, as the hall's own writers do)."""
    db = sqlite3.connect(store, isolation_level=None)
    db.execute("PRAGMA busy_timeout = 10000")
    db.execute("PRAGMA cache_size = -65536")
    db.execute("BEGIN IMMEDIATE")
    hall = db.execute("SELECT value FROM meta WHERE key = 'hall_code'").fetchone()[0]
    row = db.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
    seq = first = int(row[0]) if row else 0
    now = int(time.time())
    due = now + 4 * 86400
    at, due_s = rfc3339(now), rfc3339(due)

    def rows():
        nonlocal seq
        for i in range(n):
            seq += 1
            cno = caseno(hall, seq)
            cid, eid = "%s-C%d" % (hall, seq), "%s-E%d" % (hall, seq)
            subject = "咨询 %d：%s" % (i, SUBJECT[i % 7:])
            body = "第 %d 号咨询。%s 我家住在第 %d 组，编号 %x。" % (
                i, BODY, i % 37, i * 2654435761 % 2**32)
            phone = "13%09d" % (i * 7919 % 10**9)
            mac = hashlib.sha256(cno.encode()).hexdigest()[:32]  # 128 bits (county 030)
            payload = json.dumps({
                "id": cid, "type": "case", "hall_code": hall, "case_no": cno, "at": at,
                "kind": "consultation", "category": "policy", "channel": "online",
                "subject": subject, "body": body, "name": "张三", "phone": phone,
                "email": None, "item": ITEM, "target": None, "submitted_at": at,
                "due_at": due_s, "due_provisional": False, "query_mac": mac,
            }, ensure_ascii=False, separators=(",", ":"))
            yield cid, cno, "%06d" % (seq % 10**6), subject, body, phone, eid, payload

    for chunk in batched(rows(), 10000):
        db.executemany(
            "INSERT INTO cases (id, case_no, query_code, kind, category, channel, subject, "
            "body, name, phone, email, item, target, submitted_at, due_at, due_provisional, "
            "status, updated_at, notify) VALUES (?1, ?2, ?3, 'consultation', 'policy', "
            "'online', ?4, ?5, '张三', ?6, NULL, '%s', NULL, %d, %d, 0, 'received', %d, 1)"
            % (ITEM, now, due, now), [r[:6] for r in chunk])
        db.executemany(
            "INSERT INTO case_events (id, case_no, status, note, actor, at) "
            "VALUES (?1, ?2, 'received', NULL, 'hall', %d)" % now,
            [(r[6], r[1]) for r in chunk])
        db.executemany(
            "INSERT INTO outbox (id, type, case_no, at, payload) VALUES (?1, 'case', ?2, %d, ?3)"
            % now, [(r[0], r[1], r[7]) for r in chunk])
        if (seq - first) % CHUNK == 0:
            set_last_seq(db, seq)
            db.execute("COMMIT")
            db.execute("BEGIN IMMEDIATE")
    set_last_seq(db, seq)
    db.execute("COMMIT")
    # as the hall's own writers leave it: the WAL folded back (SQLite's autocheckpoint), not
    # a WAL as large as the backlog for every reader to index
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def set_last_seq(db, seq):
    """meta last_seq moved on with the records, as store_next_seq does."""
    db.execute("INSERT INTO meta (key, value) VALUES ('last_seq', ?1) "
               "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(seq),))


def batched(it, k):
    chunk = []
    for x in it:
        chunk.append(x)
        if len(chunk) == k:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


if __name__ == "__main__":
    t0 = time.time()
    fill(sys.argv[1], int(sys.argv[2]))
    print("%s records in %.1f s" % (sys.argv[2], time.time() - t0))
