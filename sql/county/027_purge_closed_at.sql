-- Issue 15: the retention purge at a county's size (SPEC 9, 11: 1,000,000 cases, most of
-- them closed). 017's county_purge took its candidates by grouping every resolved or
-- rejected case with its events and keeping those whose last event was past the period:
-- every batch of the daily purge read every closed case and every event of it, also when
-- nothing was to go. Here the candidates are an ordered range of an index:
--
--   cases_purge   (status, closed_at). closed_at (020) is when the case first closed, the
--                 time of one of its events, so a case whose last event is past the period
--                 closed before it: the range closed_at <= the period's start holds every
--                 candidate, oldest first, and a batch reads about LIMIT of its entries.
--                 status leads so that the answered cases (closed for the dashboard, never
--                 purged, and a case may stay answered for good) are not in the two
--                 ranges read, resolved and rejected, each in closed_at order.
--   county_purge  017's, with only the candidates taken from those ranges; the rest (the
--                 last event past the period, nothing of the case left in downlink, the
--                 deletes, the appointments, the row it answers) is 017's word for word.
--
-- closed_at must then be set on every closed case. The trigger of 020 sets it on each one
-- that closes. 020's backfill of the cases closed before it cannot have set it on a county
-- that held closed cases: its UPDATE reads hall_month_stats, which that UPDATE's own
-- trigger writes (error 1442, and 020 is not applied). So it is done again here for any
-- case left without, 10,000 a transaction (a Galera write set stays small), with 020's
-- value: the first closing county event. A status moves only by a county event (001's
-- case_events_downlink), so every closed case has one. Galera: no table is added; nothing
-- locks. Every statement can run twice without harm.

ALTER TABLE cases ADD INDEX IF NOT EXISTS cases_purge (status, closed_at);

CREATE OR REPLACE PROCEDURE closed_at_fill_027()
	MODIFIES SQL DATA
BEGIN
	DECLARE v_done INT;

	-- the cases_purge ranges of the closed statuses with no closed_at: only the cases left
	-- out are read, each once (the EXISTS keeps one with no closing event out of the loop)
	chunks: LOOP
		UPDATE cases c SET c.closed_at = (SELECT MIN(e.at) FROM case_events e
				WHERE e.case_no = c.case_no AND e.origin = 'county'
				AND e.status IN ('answered', 'resolved', 'rejected'))
			WHERE c.status IN ('answered', 'resolved', 'rejected') AND c.closed_at IS NULL
			AND EXISTS (SELECT 1 FROM case_events e
				WHERE e.case_no = c.case_no AND e.origin = 'county'
				AND e.status IN ('answered', 'resolved', 'rejected'))
			LIMIT 10000;
		SET v_done = ROW_COUNT();
		COMMIT;
		IF v_done < 10000 THEN
			LEAVE chunks;
		END IF;
	END LOOP;
END;

CALL closed_at_fill_027();
DROP PROCEDURE IF EXISTS closed_at_fill_027;

-- As 017's (sql/county/017_appt_keep.sql), the candidates aside: answers one row, cases,
-- events and appointments deleted; runs in the caller's transaction.
CREATE OR REPLACE PROCEDURE county_purge(IN p_days INT, IN p_limit INT)
	MODIFIES SQL DATA
BEGIN
	DECLARE v_cases, v_events, v_appts, v_left INT DEFAULT 0;
	DECLARE v_before DATETIME;
	DECLARE v_status VARCHAR(16) DEFAULT 'resolved';

	IF p_days IS NULL OR p_days < 0 OR p_limit IS NULL OR p_limit < 1 THEN
		SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'county_purge: days >= 0, limit >= 1';
	END IF;
	SET v_before = NOW() - INTERVAL p_days DAY;
	-- ---- the closed cases: resolved, then rejected, each oldest first, LIMIT in all
	CREATE OR REPLACE TEMPORARY TABLE purge_cases (case_no VARCHAR(32) PRIMARY KEY);
	WHILE v_status IS NOT NULL AND v_cases < p_limit DO
		SET v_left = p_limit - v_cases;
		INSERT INTO purge_cases (case_no)
			SELECT c.case_no FROM cases c
			WHERE c.status = v_status AND c.closed_at <= v_before
			  AND (SELECT MAX(e.at) FROM case_events e WHERE e.case_no = c.case_no)
			      <= v_before
			  AND NOT EXISTS (SELECT 1 FROM downlink d WHERE d.hall_code = c.hall_code
					  AND d.kind = 'event' AND d.ref IN
					  (SELECT x.seq FROM case_events x WHERE x.case_no = c.case_no))
			ORDER BY c.closed_at
			LIMIT v_left;
		SET v_cases = (SELECT COUNT(*) FROM purge_cases);
		SET v_status = IF(v_status = 'resolved', 'rejected', NULL);
	END WHILE;

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

	-- ---- the appointments, as 017: their day and their last change past the period (a
	-- booking never kept stays until its day is), and none of their decisions still on
	-- its way to the hall, so the hall always learns how one ended
	CREATE OR REPLACE TEMPORARY TABLE purge_appts (appointment_no VARCHAR(32) PRIMARY KEY);
	INSERT INTO purge_appts (appointment_no)
		SELECT a.appointment_no FROM appointments a
		WHERE a.date < CURDATE() - INTERVAL p_days DAY
		  AND COALESCE(a.status_at, a.booked_at) <= NOW() - INTERVAL p_days DAY
		  AND NOT EXISTS (SELECT 1 FROM appointment_events e
				  JOIN downlink d ON d.kind = 'appt' AND d.ref = e.seq
				  WHERE e.appointment_no = a.appointment_no)
		ORDER BY a.date
		LIMIT p_limit;
	SET v_appts = (SELECT COUNT(*) FROM purge_appts);
	DELETE x FROM conflicts x JOIN records r ON r.id = x.record_id
		JOIN purge_appts p ON p.appointment_no = r.case_no;
	DELETE x FROM refusals x JOIN records r ON r.id = x.record_id
		JOIN purge_appts p ON p.appointment_no = r.case_no;
	-- notifications.case_no holds the appointment's number for its notices (016)
	DELETE n FROM notifications n JOIN purge_appts p ON p.appointment_no = n.case_no;
	DELETE e FROM appointment_events e JOIN purge_appts p ON p.appointment_no = e.appointment_no;
	DELETE a FROM appointments a JOIN purge_appts p ON p.appointment_no = a.appointment_no;
	DROP TEMPORARY TABLE purge_appts;
	SELECT v_cases AS cases, v_events AS events, v_appts AS appointments;
END;
