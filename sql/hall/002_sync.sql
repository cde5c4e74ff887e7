-- What hall-agent keeps in the hall store: per-destination counters, records a destination
-- refused (quarantined, never deleted), and this store's identity.

-- The store's identity: a new store (reinstall, restore) gets a new one, so the county keeps
-- a separate high-water mark for its outbox numbering.
INSERT INTO meta (key, value) VALUES ('store_id', lower(hex(randomblob(16))))
	ON CONFLICT (key) DO NOTHING;

ALTER TABLE sync_dest ADD COLUMN bytes_sent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_dest ADD COLUMN records_sent INTEGER NOT NULL DEFAULT 0;

-- A record a destination refused (rejected) or holds with other content (conflict). It
-- stays in the outbox; the other records go on; status and logs show it until resolved.
CREATE TABLE quarantine (
	id     TEXT NOT NULL,
	dest   TEXT NOT NULL,
	seq    INTEGER NOT NULL,
	result TEXT NOT NULL CHECK (result IN ('rejected','conflict')),
	reason TEXT,
	at     INTEGER NOT NULL,
	PRIMARY KEY (id, dest)
) WITHOUT ROWID;

-- A destination exists once hall-agent is configured for it (the province comes later);
-- the health backlog counts against the destinations that exist.
DELETE FROM sync_dest WHERE dest = 'province' AND acked_seq = 0;
