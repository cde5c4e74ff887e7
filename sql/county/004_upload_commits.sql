-- One round trip per batch: hall_upload commits its own work (the batch, the stream's
-- high-water mark and the hall's health, together) before it answers. On a 2G link with an
-- 800 ms round trip, the separate COMMIT cost as much as sending a small batch.
-- Otherwise the same as in 003_lean_batches.sql.

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

GRANT EXECUTE ON PROCEDURE hall_upload TO hall_agent;
