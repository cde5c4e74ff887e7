-- Appointments (预约, issue 14, SPEC 4.5): the schedule the county publishes for this hall,
-- and the appointments the hall books against it, offline, never beyond a slot's capacity.
-- lib/store/appointment.c owns these tables; the booking is one write transaction of
-- hall-write's group commit, so the count of a slot's bookings and the new one are one
-- serialized step.

-- The schedule document as the county sent it (the contract in docs/ARCHITECTURE.md): one
-- row. A document is applied only when its version is greater than the one held, so the
-- downlink may bring them again or out of order.
CREATE TABLE appt_schedule (
	one        INTEGER PRIMARY KEY CHECK (one = 1),
	version    INTEGER NOT NULL,
	body       TEXT NOT NULL,
	applied_at INTEGER NOT NULL                 -- Unix seconds
);
-- The document parsed, replaced whole with it: the items, their weekly slots (weekday 1 =
-- Monday .. 7 = Sunday; times "HH:MM", Asia/Shanghai) and the closed days.
CREATE TABLE appt_items (
	id       TEXT PRIMARY KEY,
	name     TEXT NOT NULL,
	guide_id TEXT,                              -- guides.id, for what to bring
	place    TEXT NOT NULL,
	position INTEGER NOT NULL                   -- the document's order
) WITHOUT ROWID;
CREATE TABLE appt_slots (
	item     TEXT NOT NULL,
	weekday  INTEGER NOT NULL CHECK (weekday BETWEEN 1 AND 7),
	start    TEXT NOT NULL,
	end      TEXT NOT NULL,
	capacity INTEGER NOT NULL CHECK (capacity >= 0),
	PRIMARY KEY (item, weekday, start)
) WITHOUT ROWID;
CREATE TABLE appt_closed (
	day TEXT PRIMARY KEY                        -- YYYY-MM-DD
) WITHOUT ROWID;

-- One row per appointment. A slot is (item, date, start); its live bookings are those
-- booked or confirmed. The schedule's item name, end and place are copied in: a later
-- schedule never changes what the citizen was told.
CREATE TABLE appointments (
	id             TEXT PRIMARY KEY,            -- <hall>-A<seq>, the record's id
	appointment_no TEXT NOT NULL UNIQUE,        -- like a case number (lib/core/caseno.c)
	query_code     TEXT NOT NULL,
	query_mac      TEXT NOT NULL,               -- HMAC of "appointment_no\ncode" (005)
	item           TEXT NOT NULL,
	item_name      TEXT NOT NULL,
	date           TEXT NOT NULL,               -- YYYY-MM-DD
	start          TEXT NOT NULL,               -- HH:MM
	end            TEXT NOT NULL,
	place          TEXT NOT NULL,
	name           TEXT NOT NULL,
	phone          TEXT NOT NULL,
	email          TEXT,                        -- for the county's e-mail notices; NULL: none
	note           TEXT,
	channel        TEXT NOT NULL DEFAULT 'online',
	registrar      TEXT,
	notify         INTEGER NOT NULL DEFAULT 1 CHECK (notify IN (0, 1)),
	status         TEXT NOT NULL DEFAULT 'booked' CHECK (status IN
	               ('booked','confirmed','refused','cancelled','attended','no_show')),
	reason         TEXT,                        -- why the county refused
	created_at     INTEGER NOT NULL,
	updated_at     INTEGER NOT NULL,
	dedup_key      TEXT UNIQUE                  -- SHA-256 of the retry key and the content
);
-- a slot's live bookings, counted by every booking
CREATE INDEX appointments_slot ON appointments (item, date, start, status);

-- What happened to an appointment after its booking: the hall's own (cancelled, id
-- <hall>-E<seq>) and the county's (confirmed, refused: id county-appt-<seq>, which makes
-- applying one again a no-op).
CREATE TABLE appt_events (
	id             TEXT PRIMARY KEY,
	appointment_no TEXT NOT NULL,
	status         TEXT NOT NULL,
	reason         TEXT,
	at             INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX appt_events_no ON appt_events (appointment_no);

-- The outbox, rebuilt (as 007 did) for two record types, `appointment` and `appt_event`,
-- both for the county alone (the province takes no appointments). Every column, index and
-- CHECK of 007 is kept.
CREATE TABLE outbox_new (
	seq      INTEGER PRIMARY KEY,               -- delivery order
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
