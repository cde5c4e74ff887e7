-- Issue 13: telling citizens (SPEC 5.6). Every statement can run twice without harm.
--
-- Each notice the county owes a citizen is a row of `notifications`, made in the same
-- transaction as what it tells of, by the triggers below (a case reaching the county; a
-- county event accepted, transferred, answered, resolved, rejected) and by hall_upload (a
-- new query code the hall issued). So a notice exists exactly when its cause committed,
-- once: UNIQUE (ref, channel), where ref names the cause. county-notifier sends the pending
-- rows and marks them; its id (a UUID: no reliance on one node's AUTO_INCREMENT order, so
-- a Galera cluster may make them on any node) is the SMS gateway's idempotency key and the
-- e-mail's Message-ID, the same on every retry.
--
-- A citizen who opted out (`notify`: false in the case record) gets no progress notices;
-- a new query code is sent anyway, since the citizen asked for it. Landlines get no SMS.

ALTER TABLE cases ADD COLUMN IF NOT EXISTS notify BOOLEAN NOT NULL DEFAULT TRUE
	COMMENT 'the citizen accepts progress notices (SPEC 5.6)';
ALTER TABLE cases ADD COLUMN IF NOT EXISTS registrar VARCHAR(64) NULL DEFAULT NULL
	COMMENT 'the hall staff account that registered the case at the window (SPEC 4.4)';

CREATE TABLE IF NOT EXISTS notifications (
	id         CHAR(36) PRIMARY KEY,                    -- UUID(): idempotency key, Message-ID
	case_no    VARCHAR(32) NOT NULL,
	hall_code  CHAR(12) NOT NULL,
	event      VARCHAR(16) NOT NULL,                    -- delivered, accepted, ..., code
	channel    VARCHAR(8) NOT NULL,                     -- sms, email
	to_addr    VARCHAR(200) NOT NULL,
	note       TEXT NULL,                               -- the answer or the reason, for e-mail
	secret     VARCHAR(16) NULL,                        -- a new query code; NULL once sent
	state      VARCHAR(8) NOT NULL DEFAULT 'pending',   -- pending, sent, failed
	attempts   INT NOT NULL DEFAULT 0,
	next_at    DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	last_error VARCHAR(255) NULL,
	last_error_at DATETIME(6) NULL,
	created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	sent_at    DATETIME(6) NULL,
	ref        VARCHAR(80) NOT NULL,                    -- the cause: case:NO, event:SEQ, record id
	UNIQUE KEY notice_once (ref, channel),
	KEY notifications_due (state, next_at),
	KEY notifications_case (case_no, channel, created_at),
	KEY notifications_errors (channel, last_error_at),
	CONSTRAINT notice_channel CHECK (channel IN ('sms', 'email')),
	CONSTRAINT notice_state CHECK (state IN ('pending', 'sent', 'failed'))
) ENGINE = InnoDB;

-- A mainland mobile number (SPEC 4.3), as the hall stores it: only these get an SMS.
CREATE OR REPLACE FUNCTION notice_mobile(p VARCHAR(32)) RETURNS BOOLEAN DETERMINISTIC
	RETURN p IS NOT NULL AND p REGEXP '^1[3-9][0-9]{9}$';

-- One notice per channel the case allows; `ref` names the cause.
CREATE OR REPLACE PROCEDURE notice_queue(IN p_case VARCHAR(32), IN p_event VARCHAR(16),
    IN p_note TEXT, IN p_ref VARCHAR(80))
	MODIFIES SQL DATA
BEGIN
	INSERT INTO notifications (id, case_no, hall_code, event, channel, to_addr, note, ref)
		SELECT UUID(), c.case_no, c.hall_code, p_event, 'sms', c.phone, p_note, p_ref
		FROM cases c WHERE c.case_no = p_case AND c.notify AND notice_mobile(c.phone)
		ON DUPLICATE KEY UPDATE ref = ref;
	INSERT INTO notifications (id, case_no, hall_code, event, channel, to_addr, note, ref)
		SELECT UUID(), c.case_no, c.hall_code, p_event, 'email', c.email, p_note, p_ref
		FROM cases c WHERE c.case_no = p_case AND c.notify AND COALESCE(c.email, '') <> ''
		ON DUPLICATE KEY UPDATE ref = ref;
END;

-- the case reached the county (已送达县级)
CREATE OR REPLACE TRIGGER cases_notice AFTER INSERT ON cases FOR EACH ROW
	CALL notice_queue(NEW.case_no, 'delivered', NULL, CONCAT('case:', NEW.case_no));

-- a county event a citizen hears of; the hall's own events (received) are not news to them
CREATE OR REPLACE TRIGGER case_events_notice AFTER INSERT ON case_events FOR EACH ROW
	FOLLOWS case_events_downlink
	IF NEW.origin = 'county' AND BINARY NEW.status IN ('accepted', 'transferred', 'answered',
	    'resolved', 'rejected') THEN
		CALL notice_queue(NEW.case_no, NEW.status, NEW.note, CONCAT('event:', NEW.seq));
	END IF;

-- county_purge deletes a case: its notices (addresses, texts) go with it
CREATE OR REPLACE TRIGGER cases_notice_purge AFTER DELETE ON cases FOR EACH ROW
	FOLLOWS cases_query_mac_purge
	DELETE FROM notifications WHERE case_no = OLD.case_no;

-- ---- hall_upload: as 011's, and the case's notify and registrar, and code records ------

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
		   OR type IS NULL OR type NOT IN ('case', 'rating', 'event', 'code');
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
	-- a new query code (SPEC 5.6): six digits and the MAC a case record carries
	UPDATE up SET result = 'rejected', reason = 'a code record needs a 6-digit code and its MAC'
		WHERE result = 'accepted' AND type = 'code'
		  AND (COALESCE(JSON_VALUE(p, '$.code'), '') NOT REGEXP '^[0-9]{6}$'
		       OR COALESCE(JSON_VALUE(p, '$.query_mac'), '') NOT REGEXP '^[0-9a-f]{64}$');

	-- the ledger decides duplicates and conflicts
	UPDATE up u JOIN records r ON r.id = u.id
		SET u.result = IF(r.sha256 = u.sha AND r.hall_code = v_hall, 'duplicate', 'conflict'),
		    u.reason = IF(r.sha256 = u.sha AND r.hall_code = v_hall, NULL,
				  'the county holds this id with other content')
		WHERE u.result = 'accepted';
	INSERT IGNORE INTO conflicts (record_id, hall_code, held_sha256, sent_sha256, sent_payload)
		-- a code record's code stays out of the table a person reads
		SELECT u.id, v_hall, r.sha256, u.sha,
		       IF(u.type = 'code', JSON_REMOVE(u.p, '$.code'), u.p)
		FROM up u JOIN records r ON r.id = u.id
		WHERE u.result = 'conflict';

	-- cases first, so ratings and events in the same batch find their case
	UPDATE up u JOIN cases c ON c.case_no = u.case_no
		SET u.result = 'rejected', u.reason = 'the case number is held under another id'
		WHERE u.result = 'accepted' AND u.type = 'case';
	INSERT INTO records (id, hall_code, type, case_no, sha256, payload)
		SELECT id, v_hall, type, case_no, sha, p FROM up
		WHERE result = 'accepted' AND type = 'case';
	INSERT INTO cases (case_no, id, hall_code, kind, category, channel, subject, body, name,
	    phone, email, item, target, submitted_at, due_at, due_provisional, notify, registrar)
		SELECT case_no, id, v_hall, JSON_VALUE(p, '$.kind'), JSON_VALUE(p, '$.category'),
		       COALESCE(JSON_VALUE(p, '$.channel'), 'online'), JSON_VALUE(p, '$.subject'),
		       JSON_VALUE(p, '$.body'), JSON_VALUE(p, '$.name'), JSON_VALUE(p, '$.phone'),
		       JSON_VALUE(p, '$.email'), JSON_VALUE(p, '$.item'), JSON_VALUE(p, '$.target'),
		       STR_TO_DATE(LEFT(JSON_VALUE(p, '$.submitted_at'), 19), '%Y-%m-%dT%H:%i:%s'),
		       STR_TO_DATE(LEFT(JSON_VALUE(p, '$.due_at'), 19), '%Y-%m-%dT%H:%i:%s'),
		       -- JSON_VALUE gives a JSON boolean as 1/0: before 015 this was never true
		       COALESCE(JSON_EXTRACT(p, '$.due_provisional'), 'false') = 'true',
		       -- JSON_EXTRACT: MariaDB's JSON_VALUE gives a boolean as '0' or '1'
		       COALESCE(JSON_EXTRACT(p, '$.notify'), 'true') <> 'false',
		       LEFT(JSON_VALUE(p, '$.registrar'), 64)
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
	-- a new query code: the county's copy of the MAC follows it (a restore checks the new
	-- code), and one SMS carries the code to the phone on file; the records ledger keeps
	-- its hash only (records_hash_only), the notice drops the code once sent
	INSERT INTO case_query_macs (case_no, hall_code, query_mac)
		SELECT case_no, v_hall, JSON_VALUE(p, '$.query_mac') FROM up
		WHERE result = 'accepted' AND type = 'code' ORDER BY n
		ON DUPLICATE KEY UPDATE query_mac = VALUES(query_mac);
	INSERT INTO notifications (id, case_no, hall_code, event, channel, to_addr,
	    secret, ref)
		SELECT UUID(), u.case_no, v_hall, 'code', 'sms', c.phone, JSON_VALUE(u.p, '$.code'),
		       u.id
		FROM up u JOIN cases c ON c.case_no = u.case_no
		WHERE u.result = 'accepted' AND u.type = 'code' AND notice_mobile(c.phone)
		ORDER BY u.n;
	-- only a case's newest code is worth sending (record ids number in issue order,
	-- "<hall_code>-Q<seq>"): the older ones still waiting are dead codes, dropped unsent
	UPDATE notifications n
		JOIN (SELECT case_no, MAX(CAST(SUBSTRING(ref, 15) AS UNSIGNED)) AS newest
		      FROM notifications WHERE hall_code = v_hall AND event = 'code'
		      AND state = 'pending' GROUP BY case_no) m ON m.case_no = n.case_no
		SET n.state = 'failed', n.secret = NULL, n.last_error = 'superseded by a newer code',
		    n.last_error_at = NOW(6)
		WHERE n.event = 'code' AND n.state = 'pending'
		  AND CAST(SUBSTRING(n.ref, 15) AS UNSIGNED) < m.newest;

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

-- ---- who may read and send them ------------------------------------------------------

-- county-notifier's account (`county-admin add-notifier`): reads what a notice says,
-- marks what it sent; makes no notice and changes no case.
CREATE ROLE IF NOT EXISTS county_notifier;
GRANT SELECT ON notifications TO county_notifier;
GRANT UPDATE (state, attempts, next_at, last_error, last_error_at, sent_at, secret)
	ON notifications
	TO county_notifier;
GRANT SELECT (case_no, kind, hall_code) ON cases TO county_notifier;
GRANT SELECT (hall_code, name) ON halls TO county_notifier;
-- the console's dashboard shows their health, and the reader reads them: everything but
-- a code not yet sent (whoever holds a case's code can rate it in the citizen's name)
GRANT SELECT (id, case_no, hall_code, event, channel, to_addr, note, state, attempts, next_at,
	last_error, last_error_at, created_at, sent_at, ref) ON notifications TO staff_console;
GRANT SELECT (id, case_no, hall_code, event, channel, to_addr, note, state, attempts, next_at,
	last_error, last_error_at, created_at, sent_at, ref) ON notifications TO county_reader;
