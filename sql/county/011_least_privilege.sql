-- Issue 11 (Trust): least privilege, tightened. Every statement can run twice without harm.
--
--   * The reader account (role county_reader, `county-admin add-reader`) inserts only
--     case_no, status and note into case_events; the row's actor is the account itself.
--     Only an account that names its own people (the staff console: the signed-in staff
--     member; a hall: 'hall'; the county's admin) names an actor.
--   * case_events.status is one of the case statuses of SPEC 2, whoever inserts it.
--   * A county event 'transferred' names where the case goes (transfer_to, sql/county/006):
--     a status that claims a move the county did not make is refused. The reader has no
--     grant on transfer_to, so it cannot move a case at all: a transfer is a person's
--     decision, taken in the staff console, where it is checked and kept with its actor.
--   * Calendars (calendars, calendar_days) are written only by the province's role
--     province_calendar (`county-admin add-provincial`), and by the county's admin account
--     (`county-admin import-calendars`, the shipped official tables); no longer by the
--     staff console's county account.
--   * hall_upload refuses, record by record, a record whose id or case_no does not carry
--     the calling hall's code (SPEC 2: "<hall_code>-<letter><seq>" and
--     "<hall_code><seq><check>"), and an event whose status is not one of SPEC 2's.

-- ---- case_events: the actor is the account, the status is one of SPEC 2's -------------

-- Without a default, a row whose writer did not (or may not) name an actor reaches the
-- trigger below with NULL there, and gets the account's name; MariaDB checks NOT NULL
-- after the BEFORE triggers.
ALTER TABLE case_events ALTER COLUMN actor DROP DEFAULT;

-- USER() is the session's login even inside a trigger (CURRENT_USER() would be the
-- trigger's definer). Statuses compare as bytes: the column's collation would take
-- 'Answered' and 'answered ' for 'answered'. The status check is a trigger rather than a CHECK constraint: a
-- constraint would refuse to be added over rows a county system inserted before it, and
-- history is not rewritten by a migration; every new or changed row is checked.
CREATE OR REPLACE TRIGGER case_events_guard BEFORE INSERT ON case_events FOR EACH ROW
	PRECEDES case_events_transfer_check
BEGIN
	IF NEW.status IS NULL OR BINARY NEW.status NOT IN ('received', 'delivered', 'accepted',
	    'transferred', 'answered', 'resolved', 'rejected') THEN
		SIGNAL SQLSTATE '23000' SET MYSQL_ERRNO = 4025,
			MESSAGE_TEXT = 'case_events.status is one of received, delivered, accepted, transferred, answered, resolved, rejected (SPEC 2)';
	END IF;
	IF NEW.origin = 'county' AND NEW.status = 'transferred' AND NEW.transfer_to IS NULL THEN
		SIGNAL SQLSTATE '23000' SET MYSQL_ERRNO = 4025,
			MESSAGE_TEXT = 'a transfer names where the case goes (transfer_to): the staff console transfers cases';
	END IF;
	IF NEW.actor IS NULL OR NEW.actor = '' THEN
		SET NEW.actor = LEFT(SUBSTRING_INDEX(USER(), '@', 1), 64);
	END IF;
END;

CREATE OR REPLACE TRIGGER case_events_guard_upd BEFORE UPDATE ON case_events FOR EACH ROW
BEGIN
	IF NEW.status IS NULL OR BINARY NEW.status NOT IN ('received', 'delivered', 'accepted',
	    'transferred', 'answered', 'resolved', 'rejected') THEN
		SIGNAL SQLSTATE '23000' SET MYSQL_ERRNO = 4025,
			MESSAGE_TEXT = 'case_events.status is one of received, delivered, accepted, transferred, answered, resolved, rejected (SPEC 2)';
	END IF;
END;

-- ---- the reader: three columns of case_events ----------------------------------------

-- The table-wide INSERT of 001 goes; granting it first makes the REVOKE safe to run twice.
GRANT INSERT ON case_events TO county_reader;
REVOKE INSERT ON case_events FROM county_reader;
GRANT INSERT (case_no, status, note) ON case_events TO county_reader;

-- ---- calendars: the province's --------------------------------------------------------

-- The province publishes the working-day calendar (国务院办公厅's table as the province
-- relays it) for every county; a county's console account only reads it.
CREATE ROLE IF NOT EXISTS province_calendar;
GRANT SELECT, INSERT, UPDATE ON calendars TO province_calendar;
GRANT SELECT, INSERT, UPDATE ON calendar_days TO province_calendar;

GRANT INSERT, UPDATE ON calendars TO staff_console;
REVOKE INSERT, UPDATE ON calendars FROM staff_console;
GRANT INSERT, UPDATE ON calendar_days TO staff_console;
REVOKE INSERT, UPDATE ON calendar_days FROM staff_console;

-- The console's accounts: 'province' is the province's own staff, who publish calendars
-- in the console (with the province_calendar account of its [county] province_user) and
-- have no say over any county's cases or accounts.
ALTER TABLE staff_accounts DROP CONSTRAINT IF EXISTS staff_role;
ALTER TABLE staff_accounts ADD CONSTRAINT staff_role
	CHECK (role IN ('staff', 'supervisor', 'admin', 'province'));

-- ---- hall_upload: a hall writes records of its own code only --------------------------

-- As 001's, with two more refusals, each a result row that names the record (the agent
-- quarantines that record alone and the others go on; sql/county/009 says why nothing
-- else may): an id or case_no without the caller's hall code, and an event whose status
-- case_events would refuse (which would otherwise fail the whole batch, again and again).
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
	-- SPEC 2: a hall issues ids "<hall_code>-..." and case numbers "<hall_code>...", so a
	-- record that carries another code was not made by this hall, whatever it says
	UPDATE up SET result = 'rejected',
		      reason = CONCAT('the record id does not carry this hall''s code ', v_hall)
		WHERE result = 'accepted' AND LEFT(id, 13) <> CONCAT(v_hall, '-');
	UPDATE up SET result = 'rejected',
		      reason = CONCAT('the case number does not carry this hall''s code ', v_hall)
		WHERE result = 'accepted' AND LEFT(case_no, 12) <> v_hall;
	UPDATE up SET result = 'rejected',
		      reason = 'the event''s status is not a case status (SPEC 2)'
		WHERE result = 'accepted' AND type = 'event'
		  AND BINARY COALESCE(JSON_VALUE(p, '$.status'), '') NOT IN ('received', 'delivered',
		      'accepted', 'transferred', 'answered', 'resolved', 'rejected');

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

-- a replaced routine keeps no grant of its own: the hall's, again
GRANT EXECUTE ON PROCEDURE hall_upload TO hall_agent;
