-- Personal data (SPEC 11): what the hall stops keeping once every configured destination
-- holds a case and the case is closed (lib/store/retention.c does it).
--
-- A minimized case keeps what the progress page shows and the phone masked as the page
-- shows it (138****5678); its name, e-mail, full phone and retry key are gone.
ALTER TABLE cases ADD COLUMN minimized_at INTEGER;	-- NULL: still whole
-- the closed cases still whole: the few the agent looks at on every minimization pass
CREATE INDEX cases_whole ON cases (status) WHERE minimized_at IS NULL;
-- the minimized cases by their last change: the daily purge's candidates, oldest first
CREATE INDEX cases_minimized ON cases (updated_at) WHERE minimized_at IS NOT NULL;

-- The outbox, rebuilt so that a record every destination holds can drop its payload and
-- keep only the SHA-256 (hex) of the bytes it sent: the same hash the county's records
-- ledger and the province's reconcile answer hold, so what arrived can still be checked.
-- payload is NULL only once hash is set; a record put back (requeue) or still due
-- somewhere always has its payload (retention.c strips only what every destination took).
CREATE TABLE outbox_new (
	seq     INTEGER PRIMARY KEY,               -- delivery order
	id      TEXT NOT NULL UNIQUE,
	type    TEXT NOT NULL CHECK (type IN ('case','event','rating')),
	case_no TEXT NOT NULL,
	at      INTEGER NOT NULL,
	payload TEXT,                              -- the JSON as sent; NULL once stripped
	hash    TEXT,                              -- sha256 hex of payload, set when stripped
	CHECK (payload IS NOT NULL OR hash IS NOT NULL)
);
INSERT INTO outbox_new (seq, id, type, case_no, at, payload)
	SELECT seq, id, type, case_no, at, payload FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
-- a case's records, for minimization and the purge
CREATE INDEX outbox_case ON outbox (case_no);
