-- Telling citizens (issue 13, SPEC 5.6): the citizen's choice of notices, and new query
-- codes sent by the county's SMS.

-- The citizen accepts progress notices (the `notify` of the form and the API; default on).
-- A case record carries "notify":false only when it is 0, so other records keep their bytes.
ALTER TABLE cases ADD COLUMN notify INTEGER NOT NULL DEFAULT 1 CHECK (notify IN (0, 1));

-- The outbox, rebuilt (as 004 did) for a new record type, `code`: a new query code the
-- hall issued (lib/store/code.c), which the county sends to the phone on file by SMS and
-- the province must never get. `only_for` names the one destination a record is for (NULL:
-- every destination); every read of a destination's due records, its backlog and
-- retention's "held everywhere" test skip the records that are not for it, so for the
-- province a code record counts as acknowledged. A code record is for the county alone,
-- whoever writes it.
CREATE TABLE outbox_new (
	seq      INTEGER PRIMARY KEY,               -- delivery order
	id       TEXT NOT NULL UNIQUE,
	type     TEXT NOT NULL CHECK (type IN ('case','event','rating','code')),
	case_no  TEXT NOT NULL,
	at       INTEGER NOT NULL,
	payload  TEXT,                              -- the JSON as sent; NULL once stripped
	hash     TEXT,                              -- sha256 hex of payload, set when stripped
	only_for TEXT,                              -- the one destination it goes to; NULL: all
	CHECK (payload IS NOT NULL OR hash IS NOT NULL),
	CHECK (type <> 'code' OR only_for IS 'county')
);
INSERT INTO outbox_new (seq, id, type, case_no, at, payload, hash)
	SELECT seq, id, type, case_no, at, payload, hash FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
-- a case's records, for minimization and the purge
CREATE INDEX outbox_case ON outbox (case_no);
-- the code records still whole: retention strips them as soon as the county holds them
-- (the code is the one secret a record carries), on every tick, through this small index
CREATE INDEX outbox_code_whole ON outbox (seq) WHERE type = 'code' AND payload IS NOT NULL;

-- Each new query code issued, for the limits of SPEC 5.6: at most one per case in 10
-- minutes and 3 in any 24 hours (rolling, not by calendar day: no burst of 6 around
-- midnight). Rows older than a day are deleted by the next resend; a purged case's go
-- with it.
CREATE TABLE code_resends (
	case_no TEXT NOT NULL,
	at      INTEGER NOT NULL                    -- Unix seconds
);
CREATE INDEX code_resends_case ON code_resends (case_no, at);
CREATE INDEX code_resends_at ON code_resends (at);
