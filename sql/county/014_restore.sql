-- Issue 12: a hall restored from a backup gets back what the backup lacks. Every statement
-- can run twice without harm.
--
-- A hall's store restored from an older backup lacks the cases made after the backup (the
-- county holds them) and the county's events it had applied since. For the citizen whose
-- receipt is one of those, the hall must again answer a progress lookup with the receipt's
-- query code; the county never held that code (the record carries none, SPEC 11) and must
-- not: whoever holds a case's code can rate it in the citizen's name. A case record now
-- carries query_mac, an HMAC-SHA-256 of the case number and code under a key only the hall
-- store (and its backups) holds: the county keeps it here, it tells the county nothing,
-- and the hall checks a code against it.
--
--   my_open_cases       the calling hall's open cases, with what its progress page shows
--                       (name and e-mail stay here) and the MAC
--   hall_restored(SINCE) queues again, in downlink, every county event of the hall's open
--                       cases and of its cases changed since SINCE (Unix seconds); answers
--                       the highest record number the county holds of the hall, past which
--                       the restored store numbers (no number is issued twice)

CREATE TABLE IF NOT EXISTS case_query_macs (
	case_no   VARCHAR(32) PRIMARY KEY,
	hall_code CHAR(12) NOT NULL,
	query_mac CHAR(64) NOT NULL
) ENGINE = InnoDB;

-- The MAC comes with the case's record; hall_upload inserts the record (with its payload,
-- which records_hash_only then empties) only once it has accepted it as a new case.
CREATE OR REPLACE TRIGGER records_query_mac BEFORE INSERT ON records FOR EACH ROW
	PRECEDES records_hash_only
	IF NEW.type = 'case' AND JSON_VALUE(NEW.payload, '$.query_mac') REGEXP '^[0-9a-f]{64}$' THEN
		INSERT IGNORE INTO case_query_macs (case_no, hall_code, query_mac)
			VALUES (NEW.case_no, NEW.hall_code, JSON_VALUE(NEW.payload, '$.query_mac'));
	END IF;

-- county_purge deletes a case: its MAC goes with it
CREATE OR REPLACE TRIGGER cases_query_mac_purge AFTER DELETE ON cases FOR EACH ROW
	DELETE FROM case_query_macs WHERE case_no = OLD.case_no;

CREATE OR REPLACE SQL SECURITY DEFINER VIEW my_open_cases AS
	SELECT c.case_no, c.id,
	       (SELECT e.id FROM case_events e WHERE e.case_no = c.case_no AND e.origin = 'hall'
		AND e.status = 'received' ORDER BY e.seq LIMIT 1) AS received_id,
	       c.kind, c.category, c.subject, c.body, c.phone, c.item, c.target, c.status,
	       DATE_FORMAT(c.submitted_at, '%Y-%m-%d %H:%i:%s') AS submitted_at,
	       DATE_FORMAT(c.due_at, '%Y-%m-%d %H:%i:%s') AS due_at, c.due_provisional,
	       DATE_FORMAT(c.received_at, '%Y-%m-%d %H:%i:%s') AS delivered_at, m.query_mac
	FROM cases c LEFT JOIN case_query_macs m ON m.case_no = c.case_no
	WHERE c.hall_code = hall_self() AND c.status NOT IN ('resolved', 'rejected');

CREATE OR REPLACE PROCEDURE hall_restored(IN p_since BIGINT)
	MODIFIES SQL DATA SQL SECURITY DEFINER
BEGIN
	DECLARE v_hall CHAR(12) DEFAULT hall_self();

	INSERT INTO downlink (hall_code, kind, ref)
		SELECT v_hall, 'event', e.seq FROM case_events e JOIN cases c ON c.case_no = e.case_no
		WHERE c.hall_code = v_hall AND e.origin = 'county'
		  AND (c.status NOT IN ('resolved', 'rejected')
		       OR e.at >= FROM_UNIXTIME(GREATEST(COALESCE(p_since, 0), 0)))
		ORDER BY e.seq;
	UPDATE halls SET last_contact_at = CURRENT_TIMESTAMP WHERE hall_code = v_hall;
	-- record ids are "<hall_code>-<letter><number>" (SPEC 2)
	SELECT COALESCE(MAX(CAST(SUBSTRING(id, 15) AS UNSIGNED)), 0) AS last_seq
		FROM records WHERE hall_code = v_hall;
END;

GRANT SELECT ON my_open_cases TO hall_agent;
GRANT EXECUTE ON PROCEDURE hall_restored TO hall_agent;
GRANT SELECT ON case_query_macs TO county_reader;
