-- A query code's MAC cut to 128 bits (issue 15, SPEC 9: a tenth of the raw bytes on the wire).
--
-- A hall now sends the first 32 hex characters of the HMAC-SHA-256 of "number\ncode"
-- (lib/store/case.c, store_query_mac) where it sent all 64. A MAC guards a 6-digit code
-- under a key only the hall holds: 128 bits leave nothing to guess, and the other 32
-- characters, random and so beyond any compression, were a quarter of a case's bytes on
-- a weak link (20 of the 77 a record took compressed, measured on the bench's backlog).
--
-- The county takes both lengths: halls on the older agent go on sending 64 characters,
-- and the MACs it holds already stay as they are (case_query_macs and appointments keep
-- them in CHAR(64); a restore sends either length back, and the hall checks either).
-- What a MAC looks like is now said once, in query_mac_ok, for the trigger that files a
-- case's MAC and for hall_upload, which checks a code record's and an appointment's; the
-- trigger is 014's and the procedure 021's, each with only that check changed.

-- TEXT: a longer value is no MAC, not an error (a VARCHAR argument would refuse it in
-- strict mode, and the whole batch with it)
CREATE OR REPLACE FUNCTION query_mac_ok(m TEXT) RETURNS BOOLEAN DETERMINISTIC
	RETURN COALESCE(m REGEXP '^[0-9a-f]{32}([0-9a-f]{32})?$', FALSE);

CREATE OR REPLACE TRIGGER records_query_mac BEFORE INSERT ON records FOR EACH ROW
	PRECEDES records_hash_only
	IF NEW.type = 'case' AND query_mac_ok(JSON_VALUE(NEW.payload, '$.query_mac')) THEN
		INSERT IGNORE INTO case_query_macs (case_no, hall_code, query_mac)
			VALUES (NEW.case_no, NEW.hall_code, JSON_VALUE(NEW.payload, '$.query_mac'));
	END IF;

-- ---- hall_upload: as 021's, with query_mac_ok --------------------------------------------

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
		type    VARCHAR(16),
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
	UPDATE up SET id = LEFT(JSON_VALUE(p, '$.id'), 64), type = LEFT(JSON_VALUE(p, '$.type'), 16),
		      case_no = LEFT(JSON_VALUE(p, '$.case_no'), 32), sha = SHA2(p, 256)
		WHERE p IS NOT NULL AND JSON_VALID(p);

	UPDATE up SET result = 'rejected', reason = 'malformed record'
		WHERE id IS NULL OR case_no IS NULL OR sha IS NULL OR p IS NULL
		   OR type IS NULL
		   OR type NOT IN ('case', 'rating', 'event', 'code', 'appointment', 'appt_event');
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
		       OR NOT query_mac_ok(JSON_VALUE(p, '$.query_mac')));
	-- an appointment (SPEC 4.5): what the county's row cannot be without
	UPDATE up SET result = 'rejected',
		      reason = 'an appointment record needs item, date, start, end and phone'
		WHERE result = 'accepted' AND type = 'appointment'
		  AND (COALESCE(JSON_VALUE(p, '$.item'), '') = ''
		       OR COALESCE(JSON_VALUE(p, '$.phone'), '') = ''
		       OR NOT record_date_ok(JSON_VALUE(p, '$.date'))
		       OR LENGTH(JSON_VALUE(p, '$.date')) <> 10
		       OR COALESCE(JSON_VALUE(p, '$.start'), '') NOT REGEXP '^([01][0-9]|2[0-3]):[0-5][0-9]$'
		       OR COALESCE(JSON_VALUE(p, '$.end'), '') NOT REGEXP '^([01][0-9]|2[0-3]):[0-5][0-9]$'
		       OR NOT record_date_ok(JSON_VALUE(p, '$.at'))
		       OR COALESCE(JSON_VALUE(p, '$.at'), '') NOT REGEXP
			  '^.{10}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]');
	UPDATE up SET result = 'rejected',
		      reason = 'the appointment event''s status is cancelled, attended or no_show'
		WHERE result = 'accepted' AND type = 'appt_event'
		  AND BINARY COALESCE(JSON_VALUE(p, '$.status'), '') NOT IN ('cancelled', 'attended',
		      'no_show');

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

	-- appointments next, so their events and codes in the same batch find them
	UPDATE up u JOIN appointments a ON a.appointment_no = u.case_no
		SET u.result = 'rejected', u.reason = 'the appointment number is held under another id'
		WHERE u.result = 'accepted' AND u.type = 'appointment';
	UPDATE up u JOIN cases c ON c.case_no = u.case_no
		SET u.result = 'rejected', u.reason = 'the appointment number is a case''s'
		WHERE u.result = 'accepted' AND u.type = 'appointment';
	-- and one number twice in the batch under two ids: the first stands
	CREATE OR REPLACE TEMPORARY TABLE up_last (case_no VARCHAR(32) PRIMARY KEY, n INT);
	INSERT INTO up_last (case_no, n)
		SELECT case_no, n FROM up WHERE result = 'accepted' AND type = 'appointment'
		ON DUPLICATE KEY UPDATE up_last.n = LEAST(up_last.n, VALUES(n));
	UPDATE up u JOIN up_last l ON l.case_no = u.case_no
		SET u.result = 'rejected', u.reason = 'the appointment number is held under another id'
		WHERE u.result = 'accepted' AND u.type = 'appointment' AND u.n <> l.n;
	DROP TEMPORARY TABLE up_last;
	INSERT INTO records (id, hall_code, type, case_no, sha256, payload)
		SELECT id, v_hall, type, case_no, sha, p FROM up
		WHERE result = 'accepted' AND type = 'appointment';
	INSERT INTO appointments (appointment_no, id, hall_code, item, item_name, date, start,
	    `end`, place, name, phone, email, note, channel, registrar, notify, query_mac,
	    booked_at)
		SELECT case_no, id, v_hall, LEFT(JSON_VALUE(p, '$.item'), 64),
		       LEFT(COALESCE(JSON_VALUE(p, '$.item_name'), ''), 200),
		       STR_TO_DATE(JSON_VALUE(p, '$.date'), '%Y-%m-%d'), JSON_VALUE(p, '$.start'),
		       JSON_VALUE(p, '$.end'), LEFT(COALESCE(JSON_VALUE(p, '$.place'), ''), 200),
		       LEFT(JSON_VALUE(p, '$.name'), 200), LEFT(JSON_VALUE(p, '$.phone'), 32),
		       LEFT(JSON_VALUE(p, '$.email'), 200), JSON_VALUE(p, '$.note'),
		       LEFT(COALESCE(JSON_VALUE(p, '$.channel'), 'online'), 16),
		       LEFT(JSON_VALUE(p, '$.registrar'), 64),
		       -- JSON_EXTRACT: MariaDB's JSON_VALUE gives a boolean as '0' or '1'
		       COALESCE(JSON_EXTRACT(p, '$.notify'), 'true') <> 'false',
		       IF(query_mac_ok(JSON_VALUE(p, '$.query_mac')),
			  JSON_VALUE(p, '$.query_mac'), NULL),
		       STR_TO_DATE(LEFT(JSON_VALUE(p, '$.at'), 19), '%Y-%m-%dT%H:%i:%s')
		FROM up WHERE result = 'accepted' AND type = 'appointment' ORDER BY n;
	UPDATE up u LEFT JOIN appointments a ON a.appointment_no = u.case_no
		SET u.result = 'rejected',
		    u.reason = IF(a.appointment_no IS NULL, 'unknown appointment',
				  'an appointment of another hall')
		WHERE u.result = 'accepted' AND u.type = 'appt_event'
		  AND (a.appointment_no IS NULL OR a.hall_code <> v_hall);

	-- a code record names a case or an appointment of this hall
	UPDATE up u LEFT JOIN cases c ON c.case_no = u.case_no
		    LEFT JOIN appointments a ON u.type = 'code' AND a.appointment_no = u.case_no
		SET u.result = 'rejected',
		    u.reason = IF(c.case_no IS NULL AND a.appointment_no IS NULL, 'unknown case',
				  'a case of another hall')
		WHERE u.result = 'accepted' AND u.type IN ('rating', 'event', 'code')
		  AND NOT ((c.case_no IS NOT NULL AND c.hall_code = v_hall)
			   OR (a.appointment_no IS NOT NULL AND a.hall_code = v_hall));
	UPDATE up u JOIN ratings r ON r.case_no = u.case_no
		SET u.result = 'rejected', u.reason = 'the case is already rated'
		WHERE u.result = 'accepted' AND u.type = 'rating';
	INSERT INTO records (id, hall_code, type, case_no, sha256, payload)
		SELECT id, v_hall, type, case_no, sha, p FROM up
		WHERE result = 'accepted' AND type NOT IN ('case', 'appointment');
	INSERT INTO ratings (id, case_no, hall_code, level, comment, at)
		SELECT id, case_no, v_hall, JSON_VALUE(p, '$.level'), JSON_VALUE(p, '$.comment'),
		       STR_TO_DATE(LEFT(JSON_VALUE(p, '$.at'), 19), '%Y-%m-%dT%H:%i:%s')
		FROM up WHERE result = 'accepted' AND type = 'rating';
	INSERT INTO case_events (id, case_no, status, note, actor, at, origin)
		SELECT id, case_no, JSON_VALUE(p, '$.status'), JSON_VALUE(p, '$.note'), 'hall',
		       STR_TO_DATE(LEFT(JSON_VALUE(p, '$.at'), 19), '%Y-%m-%dT%H:%i:%s'), 'hall'
		FROM up WHERE result = 'accepted' AND type = 'event';
	-- the hall's news of an appointment: the last of the batch for each wins
	CREATE OR REPLACE TEMPORARY TABLE up_last (case_no VARCHAR(32) PRIMARY KEY, n INT);
	INSERT INTO up_last (case_no, n)
		SELECT case_no, n FROM up WHERE result = 'accepted' AND type = 'appt_event'
		ON DUPLICATE KEY UPDATE up_last.n = GREATEST(up_last.n, VALUES(n));
	UPDATE appointments a JOIN up_last l ON l.case_no = a.appointment_no
		JOIN up u ON u.n = l.n
		SET a.status = JSON_VALUE(u.p, '$.status'),
		    a.status_at = STR_TO_DATE(LEFT(JSON_VALUE(u.p, '$.at'), 19), '%Y-%m-%dT%H:%i:%s');
	DROP TEMPORARY TABLE up_last;
	-- a new query code: the county's copy of the MAC follows it (a restore checks the new
	-- code), and one SMS carries the code to the phone on file; the records ledger keeps
	-- its hash only (records_hash_only), the notice drops the code once sent
	INSERT INTO case_query_macs (case_no, hall_code, query_mac)
		SELECT u.case_no, v_hall, JSON_VALUE(u.p, '$.query_mac') FROM up u
		JOIN cases c ON c.case_no = u.case_no
		WHERE u.result = 'accepted' AND u.type = 'code' ORDER BY u.n
		ON DUPLICATE KEY UPDATE query_mac = VALUES(query_mac);
	-- an appointment's: the batch's last code for it
	CREATE OR REPLACE TEMPORARY TABLE up_last (case_no VARCHAR(32) PRIMARY KEY, n INT);
	INSERT INTO up_last (case_no, n)
		SELECT case_no, n FROM up WHERE result = 'accepted' AND type = 'code'
		ON DUPLICATE KEY UPDATE up_last.n = GREATEST(up_last.n, VALUES(n));
	UPDATE appointments a JOIN up_last l ON l.case_no = a.appointment_no
		JOIN up u ON u.n = l.n
		SET a.query_mac = JSON_VALUE(u.p, '$.query_mac');
	DROP TEMPORARY TABLE up_last;
	INSERT INTO notifications (id, case_no, hall_code, event, channel, to_addr,
	    secret, ref)
		SELECT UUID(), u.case_no, v_hall, 'code', 'sms', c.phone, JSON_VALUE(u.p, '$.code'),
		       u.id
		FROM up u JOIN cases c ON c.case_no = u.case_no
		WHERE u.result = 'accepted' AND u.type = 'code' AND notice_mobile(c.phone)
		ORDER BY u.n;
	INSERT INTO notifications (id, case_no, hall_code, event, channel, to_addr,
	    secret, ref)
		SELECT UUID(), u.case_no, v_hall, 'code', 'sms', a.phone, JSON_VALUE(u.p, '$.code'),
		       u.id
		FROM up u JOIN appointments a ON a.appointment_no = u.case_no
		WHERE u.result = 'accepted' AND u.type = 'code' AND notice_mobile(a.phone)
		ORDER BY u.n;
	-- only a case's newest code is worth sending (record ids number in issue order,
	-- "<hall_code>-Q<seq>"): the older ones still waiting are dead codes, dropped unsent.
	-- Only for the cases this batch sent a code for, found by notifications_case: as 016
	-- wrote it, the UPDATE ran for every batch and scanned every pending notice with
	-- exclusive locks, so that two halls delivering at once deadlocked on it (021)
	IF EXISTS (SELECT 1 FROM up WHERE result = 'accepted' AND type = 'code') THEN
		CREATE OR REPLACE TEMPORARY TABLE up_last (case_no VARCHAR(32) PRIMARY KEY,
							   newest BIGINT UNSIGNED);
		INSERT INTO up_last (case_no, newest)
			SELECT n.case_no, MAX(CAST(SUBSTRING(n.ref, 15) AS UNSIGNED))
			FROM (SELECT DISTINCT case_no FROM up
			      WHERE result = 'accepted' AND type = 'code') c
			JOIN notifications n ON n.case_no = c.case_no
			WHERE n.hall_code = v_hall AND n.event = 'code' AND n.state = 'pending'
			GROUP BY n.case_no;
		UPDATE up_last m STRAIGHT_JOIN notifications n ON n.case_no = m.case_no
			SET n.state = 'failed', n.secret = NULL,
			    n.last_error = 'superseded by a newer code', n.last_error_at = NOW(6)
			WHERE n.event = 'code' AND n.state = 'pending'
			  AND CAST(SUBSTRING(n.ref, 15) AS UNSIGNED) < m.newest;
		DROP TEMPORARY TABLE up_last;
	END IF;

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
