-- Personal data (SPEC 11) at the county. Every statement can run twice without harm.
--
-- 1. The records ledger keeps what deduplication and conflict detection need (id, hall,
--    type, case number, the SHA-256 of the record as received, when) and no second copy of
--    the record: the case itself is in cases, its events and rating in their tables, and a
--    conflicting record's content in conflicts, where a person reads it. hall_upload
--    already decides duplicate or conflict by sha256 alone, so it is not redefined: a
--    trigger keeps whatever it (or any later version of it) inserts as payload out of the
--    table, and the rows received before this migration lose theirs.
-- 2. county_purge: deletes the closed cases past the retention period (county-admin purge,
--    daily from the county-purge.timer).

ALTER TABLE records MODIFY COLUMN payload MEDIUMTEXT NULL DEFAULT NULL
	COMMENT 'always NULL since 012: the ledger keeps sha256, not the record';

CREATE OR REPLACE TRIGGER records_hash_only BEFORE INSERT ON records FOR EACH ROW
	SET NEW.payload = NULL;

UPDATE records SET payload = NULL WHERE payload IS NOT NULL;
-- rebuilds the table, so the pages that held the payloads leave its file
OPTIMIZE TABLE records;

-- The closed cases (resolved, rejected: nothing more happens to them) whose last event is
-- older than p_days, at most p_limit of them, deleted with everything the county keeps of
-- them: events, transfers, rating and its follow-up, conflicts and refusals of their
-- records. A case whose hall has not yet taken every event (a downlink row remains) waits,
-- so the hall always learns how its case ended. The records ledger keeps its rows (hashes,
-- no personal data), so a record a hall sends again is a duplicate, never a new case.
-- Runs in the caller's transaction; answers one row: cases and events deleted.
CREATE OR REPLACE PROCEDURE county_purge(IN p_days INT, IN p_limit INT)
	MODIFIES SQL DATA
BEGIN
	DECLARE v_cases, v_events INT DEFAULT 0;

	IF p_days IS NULL OR p_days < 0 OR p_limit IS NULL OR p_limit < 1 THEN
		SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'county_purge: days >= 0, limit >= 1';
	END IF;
	CREATE OR REPLACE TEMPORARY TABLE purge_cases (case_no VARCHAR(32) PRIMARY KEY);
	INSERT INTO purge_cases (case_no)
		SELECT c.case_no FROM cases c JOIN case_events e ON e.case_no = c.case_no
		WHERE c.status IN ('resolved', 'rejected')
		  AND NOT EXISTS (SELECT 1 FROM downlink d WHERE d.hall_code = c.hall_code
				  AND d.kind = 'event' AND d.ref IN
				  (SELECT x.seq FROM case_events x WHERE x.case_no = c.case_no))
		GROUP BY c.case_no
		HAVING MAX(e.at) <= NOW() - INTERVAL p_days DAY
		LIMIT p_limit;
	SET v_cases = (SELECT COUNT(*) FROM purge_cases);

	DELETE x FROM conflicts x JOIN records r ON r.id = x.record_id
		JOIN purge_cases p ON p.case_no = r.case_no;
	DELETE x FROM refusals x JOIN records r ON r.id = x.record_id
		JOIN purge_cases p ON p.case_no = r.case_no;
	DELETE f FROM rating_followups f JOIN purge_cases p ON p.case_no = f.case_no;
	DELETE r FROM ratings r JOIN purge_cases p ON p.case_no = r.case_no;
	DELETE t FROM case_transfers t JOIN purge_cases p ON p.case_no = t.case_no;
	DELETE e FROM case_events e JOIN purge_cases p ON p.case_no = e.case_no;
	SET v_events = ROW_COUNT();
	DELETE c FROM cases c JOIN purge_cases p ON p.case_no = c.case_no;
	DROP TEMPORARY TABLE purge_cases;
	SELECT v_cases AS cases, v_events AS events;
END;
