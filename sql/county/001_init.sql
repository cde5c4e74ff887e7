-- The county database (MariaDB 10.11, InnoDB, utf8mb4): the system of record for the
-- county's halls. Applied by `county-admin migrate`, which records each file in
-- schema_migrations; every statement here can run twice without harm.
--
-- Times are DATETIME in Asia/Shanghai wall time: the server runs with
-- default-time-zone='+08:00', so CURRENT_TIMESTAMP defaults are local time too.
--
-- Halls never touch the tables. Each hall's account (role hall_agent) may only
--   CALL hall_upload(...)  write its own records, idempotently, with its high-water mark
--   CALL hall_ack(...)     acknowledge downlink rows it has applied
--   CALL hall_hello(...)   report its contact data, backlog and agent version
--   CALL hall_refusal(...) report a record it quarantined because the county refused it
--   SELECT from my_*      read its own downlink and its own high-water mark
-- and those routines and views check, through hall_self(), which hall the account is.

CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INT PRIMARY KEY,
	name       VARCHAR(255) NOT NULL,
	applied_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
) ENGINE = InnoDB;

-- One row per hall: who it is, and its sync health as its agent last reported it.
CREATE TABLE IF NOT EXISTS halls (
	hall_code       CHAR(12) PRIMARY KEY,
	name            VARCHAR(100) NOT NULL,
	county_code     CHAR(6) NOT NULL,
	db_user         VARCHAR(64) NOT NULL UNIQUE,
	contact         TEXT,                     -- the hall's public contact data (JSON)
	last_contact_at DATETIME,
	backlog         BIGINT,
	agent_version   VARCHAR(32),
	KEY halls_county (county_code)
) ENGINE = InnoDB;

-- The uplink's high-water mark per hall store. A store recreated at a hall gets a new
-- store_id, so its outbox numbering starts afresh without colliding with the old one.
CREATE TABLE IF NOT EXISTS hall_streams (
	hall_code  CHAR(12) NOT NULL,
	store_id   CHAR(32) NOT NULL,
	last_seq   BIGINT NOT NULL DEFAULT 0,
	updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
	PRIMARY KEY (hall_code, store_id)
) ENGINE = InnoDB;

-- Every record a hall sent, by id: the idempotency ledger. The same id with the same
-- sha256 is a duplicate (success); with another sha256 it is a conflict.
CREATE TABLE IF NOT EXISTS records (
	id          VARCHAR(64) PRIMARY KEY,
	hall_code   CHAR(12) NOT NULL,
	type        VARCHAR(8) NOT NULL,
	case_no     VARCHAR(32) NOT NULL,
	sha256      CHAR(64) NOT NULL,
	payload     MEDIUMTEXT NOT NULL,
	received_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	KEY records_hall (hall_code, received_at)
) ENGINE = InnoDB;

-- Records that reused an id with other content: kept and shown, never dropped.
CREATE TABLE IF NOT EXISTS conflicts (
	seq           BIGINT AUTO_INCREMENT PRIMARY KEY,
	record_id     VARCHAR(64) NOT NULL,
	hall_code     CHAR(12) NOT NULL,
	held_sha256   CHAR(64) NOT NULL,
	sent_sha256   CHAR(64) NOT NULL,
	sent_payload  MEDIUMTEXT NOT NULL,
	at            DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
	UNIQUE KEY conflicts_once (record_id, sent_sha256)
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS cases (
	case_no         VARCHAR(32) PRIMARY KEY,
	id              VARCHAR(64) NOT NULL UNIQUE,
	hall_code       CHAR(12) NOT NULL,
	kind            VARCHAR(16) NOT NULL,
	category        VARCHAR(16),
	channel         VARCHAR(16) NOT NULL DEFAULT 'online',
	subject         VARCHAR(400) NOT NULL,
	body            TEXT NOT NULL,
	name            VARCHAR(200),
	phone           VARCHAR(32) NOT NULL,
	email           VARCHAR(200),
	item            VARCHAR(400),
	target          VARCHAR(400),
	submitted_at    DATETIME NOT NULL,
	due_at          DATETIME NOT NULL,
	due_provisional BOOLEAN NOT NULL DEFAULT FALSE,
	status          VARCHAR(16) NOT NULL DEFAULT 'delivered',
	received_at     DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	KEY cases_hall (hall_code, status),
	KEY cases_due (status, due_at)
) ENGINE = InnoDB;

-- One row per status change or reply. A county system answers a case by inserting
-- (case_no, status, note, actor); the rest defaults, and the hall shows it after the next
-- downlink.
CREATE TABLE IF NOT EXISTS case_events (
	seq     BIGINT AUTO_INCREMENT PRIMARY KEY,
	id      VARCHAR(64) UNIQUE,               -- set for events that came from a hall
	case_no VARCHAR(32) NOT NULL,
	status  VARCHAR(16) NOT NULL,
	note    TEXT,
	actor   VARCHAR(64) NOT NULL DEFAULT 'county',
	at      DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
	origin  VARCHAR(8) NOT NULL DEFAULT 'county',
	KEY case_events_case (case_no, seq)
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS ratings (
	id          VARCHAR(64) PRIMARY KEY,
	case_no     VARCHAR(32) NOT NULL UNIQUE,
	hall_code   CHAR(12) NOT NULL,
	level       TINYINT NOT NULL,
	comment     TEXT,
	at          DATETIME NOT NULL,
	received_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE = InnoDB;

-- Service guides; county_code NULL means every hall of the database.
CREATE TABLE IF NOT EXISTS guides (
	id          VARCHAR(64) PRIMARY KEY,
	county_code CHAR(6),
	name        VARCHAR(200) NOT NULL,
	department  VARCHAR(200) NOT NULL DEFAULT '',
	materials   TEXT NOT NULL,
	time_limit  VARCHAR(200) NOT NULL,
	fees        VARCHAR(400) NOT NULL,
	fee_basis   VARCHAR(400) NOT NULL DEFAULT '',
	delivery    VARCHAR(400) NOT NULL,
	consult     VARCHAR(400) NOT NULL,
	address     VARCHAR(400) NOT NULL,
	hours       VARCHAR(200) NOT NULL,
	updated_at  DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP
) ENGINE = InnoDB;

-- Working-day calendars, one text per year in the format of conf/calendar/README.md.
CREATE TABLE IF NOT EXISTS calendars (
	year       SMALLINT PRIMARY KEY,
	body       TEXT NOT NULL,
	updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP
) ENGINE = InnoDB;

-- What each hall still has to receive. Rows are added by triggers when a county writer
-- commits and deleted when the hall acknowledges them, so a hall never depends on the
-- order in which AUTO_INCREMENT values commit: a row committed late is still there.
CREATE TABLE IF NOT EXISTS downlink (
	seq        BIGINT AUTO_INCREMENT PRIMARY KEY,
	hall_code  CHAR(12) NOT NULL,
	kind       VARCHAR(8) NOT NULL,             -- event, guide, calendar
	ref        VARCHAR(64) NOT NULL,            -- case_events.seq, guides.id, calendars.year
	created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
	KEY downlink_hall (hall_code, seq)
) ENGINE = InnoDB;

-- ---- triggers: the county's writes become downlink rows ----------------------------

CREATE OR REPLACE TRIGGER case_events_downlink AFTER INSERT ON case_events FOR EACH ROW
BEGIN
	UPDATE cases SET status = NEW.status WHERE case_no = NEW.case_no AND NEW.origin = 'county';
	INSERT INTO downlink (hall_code, kind, ref)
		SELECT hall_code, 'event', NEW.seq FROM cases
		WHERE case_no = NEW.case_no AND NEW.origin = 'county';
END;

CREATE OR REPLACE TRIGGER guides_downlink_ins AFTER INSERT ON guides FOR EACH ROW
	INSERT INTO downlink (hall_code, kind, ref)
		SELECT hall_code, 'guide', NEW.id FROM halls
		WHERE NEW.county_code IS NULL OR county_code = NEW.county_code;

CREATE OR REPLACE TRIGGER guides_downlink_upd AFTER UPDATE ON guides FOR EACH ROW
	INSERT INTO downlink (hall_code, kind, ref)
		SELECT hall_code, 'guide', NEW.id FROM halls
		WHERE NEW.county_code IS NULL OR county_code = NEW.county_code;

CREATE OR REPLACE TRIGGER calendars_downlink_ins AFTER INSERT ON calendars FOR EACH ROW
	INSERT INTO downlink (hall_code, kind, ref) SELECT hall_code, 'calendar', NEW.year FROM halls;

CREATE OR REPLACE TRIGGER calendars_downlink_upd AFTER UPDATE ON calendars FOR EACH ROW
	INSERT INTO downlink (hall_code, kind, ref) SELECT hall_code, 'calendar', NEW.year FROM halls;

-- A new hall receives every guide and calendar already published.
CREATE OR REPLACE TRIGGER halls_downlink AFTER INSERT ON halls FOR EACH ROW
BEGIN
	INSERT INTO downlink (hall_code, kind, ref)
		SELECT NEW.hall_code, 'guide', id FROM guides
		WHERE county_code IS NULL OR county_code = NEW.county_code;
	INSERT INTO downlink (hall_code, kind, ref)
		SELECT NEW.hall_code, 'calendar', year FROM calendars;
END;

-- ---- the hall's side: who am I, what may I read ------------------------------------

-- The hall of the connected account, or NULL: USER() is the session's login, which a
-- DEFINER routine or view still sees.
CREATE OR REPLACE FUNCTION hall_self() RETURNS CHAR(12)
	READS SQL DATA SQL SECURITY DEFINER
	RETURN (SELECT hall_code FROM halls WHERE db_user = SUBSTRING_INDEX(USER(), '@', 1));

CREATE OR REPLACE SQL SECURITY DEFINER VIEW my_events AS
	SELECT d.seq, e.seq AS event_seq, e.case_no, e.status, e.note, e.actor,
	       DATE_FORMAT(e.at, '%Y-%m-%d %H:%i:%s') AS at
	FROM downlink d JOIN case_events e ON d.kind = 'event' AND e.seq = d.ref
	WHERE d.hall_code = hall_self();

CREATE OR REPLACE SQL SECURITY DEFINER VIEW my_guides AS
	SELECT d.seq, g.id, g.name, g.department, g.materials, g.time_limit, g.fees, g.fee_basis,
	       g.delivery, g.consult, g.address, g.hours,
	       DATE_FORMAT(g.updated_at, '%Y-%m-%d %H:%i:%s') AS updated_at
	FROM downlink d JOIN guides g ON d.kind = 'guide' AND g.id = d.ref
	WHERE d.hall_code = hall_self();

CREATE OR REPLACE SQL SECURITY DEFINER VIEW my_calendars AS
	SELECT d.seq, c.year, c.body
	FROM downlink d JOIN calendars c ON d.kind = 'calendar' AND c.year = d.ref
	WHERE d.hall_code = hall_self();

-- Downlink rows whose target is gone (a deleted guide): acknowledged like the rest.
CREATE OR REPLACE SQL SECURITY DEFINER VIEW my_orphans AS
	SELECT d.seq FROM downlink d
	WHERE d.hall_code = hall_self()
	  AND NOT EXISTS (SELECT 1 FROM case_events e WHERE d.kind = 'event' AND e.seq = d.ref)
	  AND NOT EXISTS (SELECT 1 FROM guides g WHERE d.kind = 'guide' AND g.id = d.ref)
	  AND NOT EXISTS (SELECT 1 FROM calendars c WHERE d.kind = 'calendar' AND c.year = d.ref);

CREATE OR REPLACE SQL SECURITY DEFINER VIEW my_streams AS
	SELECT store_id, last_seq FROM hall_streams WHERE hall_code = hall_self();

-- ---- the hall's side: what may I write -----------------------------------------------

-- A batch of outbox records: a JSON array of strings, each a record's JSON text exactly as
-- the hall holds it; its id, type and case number are read from it and its SHA-256 taken
-- here, so nothing travels twice (on a 2G link every byte counts). Writes every
-- record it can, the stream's high-water mark, and the hall's health, all in the caller's
-- transaction; returns one row (id, result, reason) per record that was not simply
-- accepted: its place in the batch (n, from 1), id, result and reason. It commits
-- before it answers: one round trip per batch on a slow link.
CREATE OR REPLACE PROCEDURE hall_upload(IN p_store CHAR(32), IN p_last_seq BIGINT,
    IN p_agent VARCHAR(32), IN p_backlog BIGINT, IN p_batch LONGTEXT)
	MODIFIES SQL DATA SQL SECURITY DEFINER
BEGIN
	DECLARE v_hall CHAR(12) DEFAULT hall_self();

	IF v_hall IS NULL THEN
		SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'this account is not a hall';
	END IF;
	IF p_batch IS NULL OR JSON_VALID(p_batch) = 0 THEN
		SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'the batch is not a JSON array';
	END IF;

	CREATE OR REPLACE TEMPORARY TABLE up (
		n       INT PRIMARY KEY,
		id      VARCHAR(64),
		type    VARCHAR(8),
		case_no VARCHAR(32),
		sha     CHAR(64),
		p       MEDIUMTEXT,
		result  VARCHAR(12) NOT NULL DEFAULT 'accepted',
		reason  VARCHAR(255),
		KEY up_id (id)
	);
	INSERT INTO up (n, p)
		SELECT j.n, j.p
		FROM JSON_TABLE(p_batch, '$[*]' COLUMNS (n FOR ORDINALITY, p MEDIUMTEXT PATH '$')) AS j;
	UPDATE up SET id = LEFT(JSON_VALUE(p, '$.id'), 64), type = LEFT(JSON_VALUE(p, '$.type'), 8),
		      case_no = LEFT(JSON_VALUE(p, '$.case_no'), 32), sha = SHA2(p, 256)
		WHERE p IS NOT NULL AND JSON_VALID(p);

	UPDATE up SET result = 'rejected', reason = 'malformed record'
		WHERE id IS NULL OR case_no IS NULL OR sha IS NULL OR p IS NULL
		   OR type IS NULL OR type NOT IN ('case', 'rating', 'event');
	UPDATE up SET result = 'rejected', reason = 'a record of another hall'
		WHERE result = 'accepted' AND COALESCE(JSON_VALUE(p, '$.hall_code'), '') <> v_hall;

	-- the ledger decides duplicates and conflicts
	UPDATE up u JOIN records r ON r.id = u.id
		SET u.result = IF(r.sha256 = u.sha AND r.hall_code = v_hall, 'duplicate', 'conflict'),
		    u.reason = IF(r.sha256 = u.sha AND r.hall_code = v_hall, NULL,
				  'the county holds this id with other content')
		WHERE u.result = 'accepted';
	INSERT IGNORE INTO conflicts (record_id, hall_code, held_sha256, sent_sha256, sent_payload)
		SELECT u.id, v_hall, r.sha256, u.sha, u.p FROM up u JOIN records r ON r.id = u.id
		WHERE u.result = 'conflict';

	-- cases first, so ratings and events in the same batch find their case
	UPDATE up u JOIN cases c ON c.case_no = u.case_no
		SET u.result = 'rejected', u.reason = 'the case number is held under another id'
		WHERE u.result = 'accepted' AND u.type = 'case';
	INSERT INTO records (id, hall_code, type, case_no, sha256, payload)
		SELECT id, v_hall, type, case_no, sha, p FROM up
		WHERE result = 'accepted' AND type = 'case';
	INSERT INTO cases (case_no, id, hall_code, kind, category, channel, subject, body, name,
	    phone, email, item, target, submitted_at, due_at, due_provisional)
		SELECT case_no, id, v_hall, JSON_VALUE(p, '$.kind'), JSON_VALUE(p, '$.category'),
		       COALESCE(JSON_VALUE(p, '$.channel'), 'online'), JSON_VALUE(p, '$.subject'),
		       JSON_VALUE(p, '$.body'), JSON_VALUE(p, '$.name'), JSON_VALUE(p, '$.phone'),
		       JSON_VALUE(p, '$.email'), JSON_VALUE(p, '$.item'), JSON_VALUE(p, '$.target'),
		       STR_TO_DATE(LEFT(JSON_VALUE(p, '$.submitted_at'), 19), '%Y-%m-%dT%H:%i:%s'),
		       STR_TO_DATE(LEFT(JSON_VALUE(p, '$.due_at'), 19), '%Y-%m-%dT%H:%i:%s'),
		       JSON_VALUE(p, '$.due_provisional') = 'true'
		FROM up WHERE result = 'accepted' AND type = 'case';

	UPDATE up u LEFT JOIN cases c ON c.case_no = u.case_no
		SET u.result = 'rejected',
		    u.reason = IF(c.case_no IS NULL, 'unknown case', 'a case of another hall')
		WHERE u.result = 'accepted' AND u.type <> 'case'
		  AND (c.case_no IS NULL OR c.hall_code <> v_hall);
	UPDATE up u JOIN ratings r ON r.case_no = u.case_no
		SET u.result = 'rejected', u.reason = 'the case is already rated'
		WHERE u.result = 'accepted' AND u.type = 'rating';
	INSERT INTO records (id, hall_code, type, case_no, sha256, payload)
		SELECT id, v_hall, type, case_no, sha, p FROM up
		WHERE result = 'accepted' AND type <> 'case';
	INSERT INTO ratings (id, case_no, hall_code, level, comment, at)
		SELECT id, case_no, v_hall, JSON_VALUE(p, '$.level'), JSON_VALUE(p, '$.comment'),
		       STR_TO_DATE(LEFT(JSON_VALUE(p, '$.at'), 19), '%Y-%m-%dT%H:%i:%s')
		FROM up WHERE result = 'accepted' AND type = 'rating';
	INSERT INTO case_events (id, case_no, status, note, actor, at, origin)
		SELECT id, case_no, JSON_VALUE(p, '$.status'), JSON_VALUE(p, '$.note'), 'hall',
		       STR_TO_DATE(LEFT(JSON_VALUE(p, '$.at'), 19), '%Y-%m-%dT%H:%i:%s'), 'hall'
		FROM up WHERE result = 'accepted' AND type = 'event';

	INSERT INTO hall_streams (hall_code, store_id, last_seq) VALUES (v_hall, p_store, p_last_seq)
		ON DUPLICATE KEY UPDATE last_seq = GREATEST(last_seq, VALUES(last_seq)),
					updated_at = CURRENT_TIMESTAMP;
	UPDATE halls SET last_contact_at = CURRENT_TIMESTAMP, backlog = p_backlog,
			 agent_version = p_agent
		WHERE hall_code = v_hall;

	SELECT n, id, result, reason FROM up WHERE result <> 'accepted' ORDER BY n;
	DROP TEMPORARY TABLE up;
	-- the batch and the mark commit here: one round trip per batch on a slow link
	COMMIT;
END;

-- Acknowledges applied downlink rows: a JSON array of their seq values.
-- Deletes by primary key, one row at a time: a join through the hall's index would lock
-- rows other county writers have inserted but not committed, and wait for them.
CREATE OR REPLACE PROCEDURE hall_ack(IN p_seqs LONGTEXT)
	MODIFIES SQL DATA SQL SECURITY DEFINER
BEGIN
	DECLARE v_hall CHAR(12) DEFAULT hall_self();
	DECLARE v_seq BIGINT;
	DECLARE v_done INT DEFAULT 0;
	DECLARE cur CURSOR FOR SELECT j.seq FROM JSON_TABLE(p_seqs, '$[*]' COLUMNS (seq BIGINT PATH '$')) AS j;
	DECLARE CONTINUE HANDLER FOR NOT FOUND SET v_done = 1;

	IF v_hall IS NULL THEN
		SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'this account is not a hall';
	END IF;
	OPEN cur;
	acks: LOOP
		FETCH cur INTO v_seq;
		IF v_done THEN
			LEAVE acks;
		END IF;
		DELETE FROM downlink WHERE seq = v_seq AND hall_code = v_hall;
	END LOOP;
	CLOSE cur;
	UPDATE halls SET last_contact_at = CURRENT_TIMESTAMP WHERE hall_code = v_hall;
END;

-- The hall's own report: contact data (JSON), backlog and agent version.
CREATE OR REPLACE PROCEDURE hall_hello(IN p_contact TEXT, IN p_backlog BIGINT,
    IN p_agent VARCHAR(32))
	MODIFIES SQL DATA SQL SECURITY DEFINER
BEGIN
	DECLARE v_hall CHAR(12) DEFAULT hall_self();

	IF v_hall IS NULL THEN
		SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'this account is not a hall';
	END IF;
	UPDATE halls SET contact = IF(JSON_VALID(p_contact), p_contact, contact),
			 backlog = p_backlog, agent_version = p_agent,
			 last_contact_at = CURRENT_TIMESTAMP
		WHERE hall_code = v_hall;
END;

-- A record this county refused, as the hall's agent reported it or hall_upload decided.
CREATE TABLE IF NOT EXISTS refusals (
	record_id  VARCHAR(64) NOT NULL,
	hall_code  CHAR(12) NOT NULL,
	reason     VARCHAR(500) NOT NULL,
	payload    MEDIUMTEXT,
	at         DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
	PRIMARY KEY (record_id, hall_code)
) ENGINE = InnoDB;

-- The agent reports a record it quarantined because the county refused the whole batch
-- around it (hall_upload never got to answer for it).
CREATE OR REPLACE PROCEDURE hall_refusal(IN p_id VARCHAR(64), IN p_reason VARCHAR(500))
	MODIFIES SQL DATA SQL SECURITY DEFINER
BEGIN
	DECLARE v_hall CHAR(12) DEFAULT hall_self();

	IF v_hall IS NULL THEN
		SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'this account is not a hall';
	END IF;
	INSERT INTO refusals (record_id, hall_code, reason) VALUES (p_id, v_hall, p_reason)
		ON DUPLICATE KEY UPDATE reason = VALUES(reason), at = CURRENT_TIMESTAMP;
END;

-- What a hall agent may do, and nothing else.
CREATE ROLE IF NOT EXISTS hall_agent;
GRANT EXECUTE ON PROCEDURE hall_upload TO hall_agent;
GRANT EXECUTE ON PROCEDURE hall_ack TO hall_agent;
GRANT EXECUTE ON PROCEDURE hall_hello TO hall_agent;
GRANT EXECUTE ON PROCEDURE hall_refusal TO hall_agent;
GRANT SELECT ON my_events TO hall_agent;
GRANT SELECT ON my_guides TO hall_agent;
GRANT SELECT ON my_calendars TO hall_agent;
GRANT SELECT ON my_orphans TO hall_agent;
GRANT SELECT ON my_streams TO hall_agent;

-- County systems (the staff console, reports): read everything, answer cases.
CREATE ROLE IF NOT EXISTS county_reader;
GRANT SELECT ON cases TO county_reader;
GRANT SELECT ON case_events TO county_reader;
GRANT SELECT ON ratings TO county_reader;
GRANT SELECT ON guides TO county_reader;
GRANT SELECT ON calendars TO county_reader;
GRANT SELECT ON halls TO county_reader;
GRANT SELECT ON conflicts TO county_reader;
GRANT SELECT ON records TO county_reader;
GRANT SELECT ON refusals TO county_reader;
GRANT SELECT ON downlink TO county_reader;
GRANT SELECT ON hall_streams TO county_reader;
GRANT SELECT ON schema_migrations TO county_reader;
GRANT INSERT ON case_events TO county_reader;
