-- The hall store (SQLite): what a hall keeps so it can serve citizens with the link down.
-- Applied by `hall-admin migrate`; PRAGMA user_version holds the number of the last file.
-- Times are Unix seconds (UTC); the programs show them in Asia/Shanghai.

-- Key/value facts about this store: the hall it belongs to, the record sequence.
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;

-- One row per case (consultation, complaint, "办不成事" report).
CREATE TABLE cases (
	id              TEXT PRIMARY KEY,          -- record id, the idempotency key end to end
	case_no         TEXT NOT NULL UNIQUE,      -- on the receipt
	query_code      TEXT NOT NULL,             -- 6 digits on the receipt
	kind            TEXT NOT NULL CHECK (kind IN ('consultation','complaint','unresolved')),
	category        TEXT CHECK (category IN ('policy','procedure','public_info')),
	channel         TEXT NOT NULL DEFAULT 'online',
	subject         TEXT NOT NULL,
	body            TEXT NOT NULL,
	name            TEXT,
	phone           TEXT NOT NULL,
	email           TEXT,
	item            TEXT,                      -- the service item asked about (事项)
	target          TEXT,                      -- window, department or staff complained about
	submitted_at    INTEGER NOT NULL,
	due_at          INTEGER NOT NULL,
	due_provisional INTEGER NOT NULL DEFAULT 0, -- computed without an official calendar
	status          TEXT NOT NULL DEFAULT 'received',
	reply_text      TEXT,
	reply_at        INTEGER,
	updated_at      INTEGER NOT NULL,
	dedup_key       TEXT UNIQUE                -- SHA-256 of the client's retry key and content
);
CREATE INDEX cases_open_provisional ON cases (due_provisional) WHERE due_provisional = 1;

-- The timeline a citizen sees: status changes and replies, from the hall or the county.
CREATE TABLE case_events (
	id      TEXT PRIMARY KEY,
	case_no TEXT NOT NULL REFERENCES cases (case_no),
	status  TEXT NOT NULL,
	note    TEXT,
	actor   TEXT,
	at      INTEGER NOT NULL
);
CREATE INDEX case_events_case ON case_events (case_no, at);

-- At most one rating per case.
CREATE TABLE ratings (
	id      TEXT PRIMARY KEY,
	case_no TEXT NOT NULL UNIQUE REFERENCES cases (case_no),
	level   INTEGER NOT NULL CHECK (level BETWEEN 1 AND 5),
	comment TEXT,
	at      INTEGER NOT NULL
);

-- Every record the hall creates, written in the same transaction as the record itself,
-- for hall-agent to deliver. payload is the record's JSON exactly as it will be sent, so
-- that every retry carries the same bytes for the same id.
CREATE TABLE outbox (
	seq     INTEGER PRIMARY KEY,               -- delivery order
	id      TEXT NOT NULL UNIQUE,
	type    TEXT NOT NULL CHECK (type IN ('case','event','rating')),
	case_no TEXT NOT NULL,
	at      INTEGER NOT NULL,
	payload TEXT NOT NULL
);

-- How far each destination has acknowledged the outbox.
CREATE TABLE sync_dest (
	dest            TEXT PRIMARY KEY,
	acked_seq       INTEGER NOT NULL DEFAULT 0,
	last_success_at INTEGER,
	last_error      TEXT,
	last_error_at   INTEGER
) WITHOUT ROWID;
INSERT INTO sync_dest (dest) VALUES ('county'), ('province');

-- Service guides (办事指南), published by the county.
CREATE TABLE guides (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,                  -- 事项名称
	department TEXT NOT NULL DEFAULT '',
	materials  TEXT NOT NULL,                  -- 申请材料, one per line
	time_limit TEXT NOT NULL,                  -- 办结时限
	fees       TEXT NOT NULL,                  -- 收费标准
	fee_basis  TEXT NOT NULL DEFAULT '',       -- 收费依据
	delivery   TEXT NOT NULL,                  -- 结果送达
	consult    TEXT NOT NULL,                  -- 咨询途径
	address    TEXT NOT NULL,                  -- 办理地点
	hours      TEXT NOT NULL,                  -- 办理时间
	updated_at INTEGER NOT NULL
);

-- The working-day calendar: years with an official table, and the listed days.
CREATE TABLE calendar_years (
	year       INTEGER PRIMARY KEY,
	updated_at INTEGER NOT NULL
);
CREATE TABLE calendar_days (
	day  TEXT PRIMARY KEY,                     -- YYYY-MM-DD
	kind TEXT NOT NULL CHECK (kind IN ('holiday','workday'))
) WITHOUT ROWID;
