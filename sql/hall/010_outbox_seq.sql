-- The outbox's numbers are never used twice.
--
-- Each destination's mark (sync_dest.acked_seq) says "everything up to here is delivered",
-- and only records above it are sent. Without AUTOINCREMENT SQLite numbers a new row one
-- past the largest row still there: once the daily purge (retention.c) had deleted a case
-- whose records were the newest, the hall's next records took numbers at or below the
-- marks and were never sent, with a backlog of 0. AUTOINCREMENT numbers past every row
-- there has ever been (sqlite_sequence).
--
-- The outbox is rebuilt (as 008 did) with every column, index and CHECK of 008 kept.
CREATE TABLE outbox_new (
	seq      INTEGER PRIMARY KEY AUTOINCREMENT, -- delivery order, never reused
	id       TEXT NOT NULL UNIQUE,
	type     TEXT NOT NULL CHECK (type IN
	         ('case','event','rating','code','appointment','appt_event')),
	case_no  TEXT NOT NULL,                     -- an appointment's: its appointment_no
	at       INTEGER NOT NULL,
	payload  TEXT,                              -- the JSON as sent; NULL once stripped
	hash     TEXT,                              -- sha256 hex of payload, set when stripped
	only_for TEXT,                              -- the one destination it goes to; NULL: all
	CHECK (payload IS NOT NULL OR hash IS NOT NULL),
	CHECK (type NOT IN ('code','appointment','appt_event') OR only_for IS 'county')
);
INSERT INTO outbox_new (seq, id, type, case_no, at, payload, hash, only_for)
	SELECT seq, id, type, case_no, at, payload, hash, only_for FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_case ON outbox (case_no);
CREATE INDEX outbox_code_whole ON outbox (seq) WHERE type = 'code' AND payload IS NOT NULL;

-- A store that has purged its newest records already: the next number goes past every
-- destination's mark too, not only past the rows left.
INSERT INTO sqlite_sequence (name, seq)
	SELECT 'outbox', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'outbox');
UPDATE sqlite_sequence
	SET seq = max(seq, (SELECT coalesce(max(acked_seq), 0) FROM sync_dest),
	              (SELECT coalesce(max(seq), 0) FROM requeue),
	              (SELECT coalesce(max(seq), 0) FROM quarantine))
	WHERE name = 'outbox';
