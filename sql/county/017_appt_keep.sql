-- Issue 14: appointments' personal data and their place in a restore (SPEC 2, 11). Every
-- statement can run twice without harm.
--
--   county_purge(DAYS, LIMIT)  as 012's, and the appointments whose day and last change are
--                              more than DAYS past, with their decisions, notices,
--                              conflicts and refusals; answers one row: cases, events,
--                              appointments deleted
--   my_restored_appointments   the calling hall's appointments from today on, whatever
--                              their status, for a hall restored from a backup that lacks
--                              them (agent/hall-agent/restore_county.c): the hall counts
--                              them in their slots, answers their lookup by the MAC of the
--                              code (014), and gets their decisions again (016's
--                              hall_restored queues them). The name and note only while
--                              the appointment is live (the window receives the citizen);
--                              no e-mail: the county, not the hall, writes to the citizen.

CREATE OR REPLACE PROCEDURE county_purge(IN p_days INT, IN p_limit INT)
	MODIFIES SQL DATA
BEGIN
	DECLARE v_cases, v_events, v_appts INT DEFAULT 0;

	IF p_days IS NULL OR p_days < 0 OR p_limit IS NULL OR p_limit < 1 THEN
		SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'county_purge: days >= 0, limit >= 1';
	END IF;
	-- ---- the closed cases, as 012
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

	-- ---- the appointments: their day and their last change past the period (a booking
	-- never kept stays until its day is), and none of their decisions still on its way
	-- to the hall, so the hall always learns how one ended
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

CREATE OR REPLACE SQL SECURITY DEFINER VIEW my_restored_appointments AS
	SELECT a.appointment_no, a.id, a.item, a.item_name, DATE_FORMAT(a.date, '%Y-%m-%d') AS date,
	       a.start, a.`end`, a.place,
	       IF(a.status IN ('booked', 'confirmed'), a.name, NULL) AS name,
	       a.phone,
	       IF(a.status IN ('booked', 'confirmed'), a.note, NULL) AS note,
	       a.channel, a.registrar, a.notify, a.status, a.reason, a.query_mac,
	       DATE_FORMAT(a.booked_at, '%Y-%m-%d %H:%i:%s') AS booked_at
	FROM appointments a
	WHERE a.hall_code = hall_self() AND a.date >= CURDATE();

GRANT SELECT ON my_restored_appointments TO hall_agent;
