-- Issue 14: appointments (预约, SPEC 2, 4.5, 5.6, 7). Every statement can run twice without
-- harm.
--
--   appointment_schedules  the schedule document per hall (the contract of the hall and the
--                          county, README "Appointments"): the county publishes, the
--                          downlink carries the whole document (kind 'schedule'), the hall
--                          applies it only when its version is greater than the one it holds
--   appointment_items, appointment_slots, appointment_closed
--                          the schedule as the console edits it; schedule_publish(hall)
--                          makes the document from them
--   appointments           the county's copy of the hall's bookings (hall_upload, records of
--                          type appointment and appt_event)
--   appointment_events     the county's decisions (confirmed, refused with a reason), down to
--                          the hall (kind 'appt')
--   appointment_conflicts  booked appointments a later schedule (or calendar) no longer has a
--                          slot for: the console lists them for staff to handle, nothing is
--                          dropped silently
--   notices (SPEC 5.6)     booked, refused, and a reminder the working day before
--                          (appointment_reminders(), which county-notifier calls each pass),
--                          as rows of 015's notifications, once per cause and channel
--
-- Nothing here relies on the order in which AUTO_INCREMENT values commit (a Galera
-- cluster makes them on every node): a schedule's version is taken from the clock, and
-- made greater than the one it replaces under that row's lock.

-- ---- records of the new types ------------------------------------------------------------

-- 'appointment' and 'appt_event' are longer than the 8 characters 001 gave the type
ALTER TABLE records MODIFY COLUMN type VARCHAR(16) NOT NULL;

-- ---- schedules -------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS appointment_schedules (
	hall_code  CHAR(12) PRIMARY KEY,
	version    BIGINT NOT NULL,              -- microseconds of the clock; only grows
	body       MEDIUMTEXT NOT NULL,          -- the whole document, as the hall receives it
	updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	updated_by VARCHAR(64) NULL,
	CONSTRAINT schedule_body CHECK (JSON_VALID(body))
) ENGINE = InnoDB;

-- What the console edits; schedule_publish makes the document from it.
CREATE TABLE IF NOT EXISTS appointment_items (
	hall_code CHAR(12) NOT NULL,
	item_id   VARCHAR(32) NOT NULL,          -- "sfz-sl": the hall's item key
	name      VARCHAR(200) NOT NULL,
	guide_id  VARCHAR(64) NULL,              -- guides.id: what to bring
	place     VARCHAR(200) NOT NULL,
	position  INT NOT NULL DEFAULT 0,
	PRIMARY KEY (hall_code, item_id)
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS appointment_slots (
	hall_code CHAR(12) NOT NULL,
	item_id   VARCHAR(32) NOT NULL,
	weekday   TINYINT NOT NULL,              -- 1 Monday .. 7 Sunday
	start     CHAR(5) NOT NULL,              -- "HH:MM", Asia/Shanghai
	`end`     CHAR(5) NOT NULL,
	capacity  INT NOT NULL,
	PRIMARY KEY (hall_code, item_id, weekday, start),
	CONSTRAINT slot_weekday CHECK (weekday BETWEEN 1 AND 7),
	CONSTRAINT slot_times CHECK (start REGEXP '^([01][0-9]|2[0-3]):[0-5][0-9]$'
				     AND `end` REGEXP '^([01][0-9]|2[0-3]):[0-5][0-9]$'
				     AND start < `end`),
	CONSTRAINT slot_capacity CHECK (capacity BETWEEN 1 AND 10000)
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS appointment_closed (
	hall_code CHAR(12) NOT NULL,
	day       DATE NOT NULL,
	PRIMARY KEY (hall_code, day)
) ENGINE = InnoDB;

-- Makes the hall's document from what the console edited and stores it with a version
-- greater than the one it replaces: the clock in microseconds, or the old one + 1 when the
-- clock is behind (a node whose clock stepped back). The row is locked while it is read,
-- so two publishers on one node take turns; on two Galera nodes the later commit fails
-- certification and its publisher tries again. Runs in the caller's transaction.
CREATE OR REPLACE PROCEDURE schedule_publish(IN p_hall CHAR(12))
	MODIFIES SQL DATA SQL SECURITY DEFINER
BEGIN
	DECLARE v_old, v_version BIGINT;

	IF NOT EXISTS (SELECT 1 FROM halls WHERE hall_code = p_hall) THEN
		SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'schedule_publish: no such hall';
	END IF;
	SELECT COALESCE(MAX(version), 0) INTO v_old FROM appointment_schedules
		WHERE hall_code = p_hall FOR UPDATE;
	SET v_version = GREATEST(v_old + 1,
				 CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED));
	INSERT INTO appointment_schedules (hall_code, version, body, updated_by)
		SELECT p_hall, v_version, JSON_OBJECT(
			'hall_code', p_hall,
			'version', CAST(v_version AS SIGNED),
			'items', JSON_EXTRACT(COALESCE((SELECT JSON_ARRAYAGG(JSON_OBJECT(
				'id', i.item_id, 'name', i.name, 'guide_id', i.guide_id,
				'place', i.place,
				'slots', JSON_EXTRACT(COALESCE((SELECT JSON_ARRAYAGG(JSON_OBJECT(
					'weekday', s.weekday, 'start', s.start, 'end', s.`end`,
					'capacity', s.capacity) ORDER BY s.weekday, s.start)
				    FROM appointment_slots s
				    WHERE s.hall_code = i.hall_code AND s.item_id = i.item_id),
				    '[]'), '$')) ORDER BY i.position, i.item_id)
			    FROM appointment_items i WHERE i.hall_code = p_hall), '[]'), '$'),
			'closed', JSON_EXTRACT(COALESCE((SELECT JSON_ARRAYAGG(
				DATE_FORMAT(c.day, '%Y-%m-%d') ORDER BY c.day)
			    FROM appointment_closed c WHERE c.hall_code = p_hall), '[]'), '$')),
		       LEFT(SUBSTRING_INDEX(USER(), '@', 1), 64)
		ON DUPLICATE KEY UPDATE version = VALUES(version), body = VALUES(body),
			updated_at = CURRENT_TIMESTAMP(6), updated_by = VALUES(updated_by);
END;

-- every new document goes down to its hall (the hall keeps the greatest version)
CREATE OR REPLACE TRIGGER appointment_schedules_downlink_ins AFTER INSERT
	ON appointment_schedules FOR EACH ROW
	INSERT INTO downlink (hall_code, kind, ref) VALUES (NEW.hall_code, 'schedule', NEW.hall_code);

CREATE OR REPLACE TRIGGER appointment_schedules_downlink_upd AFTER UPDATE
	ON appointment_schedules FOR EACH ROW
	INSERT INTO downlink (hall_code, kind, ref) VALUES (NEW.hall_code, 'schedule', NEW.hall_code);

CREATE OR REPLACE SQL SECURITY DEFINER VIEW my_schedules AS
	SELECT d.seq, s.version, s.body
	FROM downlink d JOIN appointment_schedules s
		ON d.kind = 'schedule' AND s.hall_code = d.ref AND s.hall_code = d.hall_code
	WHERE d.hall_code = hall_self();

-- ---- appointments ------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS appointments (
	appointment_no VARCHAR(32) PRIMARY KEY,
	id             VARCHAR(64) NOT NULL UNIQUE,
	hall_code      CHAR(12) NOT NULL,
	item           VARCHAR(64) NOT NULL,
	item_name      VARCHAR(200) NOT NULL DEFAULT '',
	date           DATE NOT NULL,
	start          CHAR(5) NOT NULL,
	`end`          CHAR(5) NOT NULL,
	place          VARCHAR(200) NOT NULL DEFAULT '',
	name           VARCHAR(200),
	phone          VARCHAR(32) NOT NULL,
	email          VARCHAR(200) NULL,          -- when the hall's record carries one
	note           TEXT,
	channel        VARCHAR(16) NOT NULL DEFAULT 'online',
	registrar      VARCHAR(64) NULL,
	notify         BOOLEAN NOT NULL DEFAULT TRUE,
	status         VARCHAR(16) NOT NULL DEFAULT 'booked',
	reason         TEXT NULL,                  -- the county's refusal
	query_mac      CHAR(64) NULL,              -- as case_query_macs (sql/county/014)
	booked_at      DATETIME NOT NULL,
	status_at      DATETIME NULL,              -- the last change of status
	received_at    DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	KEY appointments_hall_day (hall_code, date, start),
	KEY appointments_day (date, status),
	CONSTRAINT appointment_status CHECK (status IN ('booked', 'confirmed', 'refused',
		'cancelled', 'attended', 'no_show'))
) ENGINE = InnoDB;

-- The county's decisions on an appointment; the console (or any county system) inserts
-- (appointment_no, status, reason) and the triggers do the rest.
CREATE TABLE IF NOT EXISTS appointment_events (
	seq            BIGINT AUTO_INCREMENT PRIMARY KEY,
	appointment_no VARCHAR(32) NOT NULL,
	status         VARCHAR(16) NOT NULL,
	reason         TEXT NULL,
	actor          VARCHAR(64) NOT NULL,
	at             DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
	KEY appointment_events_no (appointment_no, seq)
) ENGINE = InnoDB;

-- confirmed follows booked; refused follows booked or confirmed and always says why
-- (SPEC 2, seed 4: 不同意预约服务申请的，应及时告知不同意理由); the actor is the writer's
-- account unless the writer names its own people (the console: the signed-in staff member)
CREATE OR REPLACE TRIGGER appointment_events_guard BEFORE INSERT ON appointment_events
	FOR EACH ROW
BEGIN
	DECLARE v_status VARCHAR(16) DEFAULT (SELECT status FROM appointments
					      WHERE appointment_no = NEW.appointment_no);

	IF NEW.status IS NULL OR BINARY NEW.status NOT IN ('confirmed', 'refused') THEN
		SIGNAL SQLSTATE '23000' SET MYSQL_ERRNO = 4025,
			MESSAGE_TEXT = 'appointment_events.status is confirmed or refused';
	END IF;
	IF NEW.status = 'refused' AND TRIM(COALESCE(NEW.reason, '')) = '' THEN
		SIGNAL SQLSTATE '23000' SET MYSQL_ERRNO = 4025,
			MESSAGE_TEXT = 'a refusal says why (appointment_events.reason)';
	END IF;
	IF v_status IS NULL THEN
		SIGNAL SQLSTATE '23000' SET MYSQL_ERRNO = 4025,
			MESSAGE_TEXT = 'no such appointment';
	END IF;
	IF NOT (v_status = 'booked' OR (v_status = 'confirmed' AND NEW.status = 'refused')) THEN
		SIGNAL SQLSTATE '23000' SET MYSQL_ERRNO = 4025,
			MESSAGE_TEXT = 'the appointment is no longer open to that decision';
	END IF;
	IF NEW.actor IS NULL OR NEW.actor = '' THEN
		SET NEW.actor = LEFT(SUBSTRING_INDEX(USER(), '@', 1), 64);
	END IF;
END;

-- One notice per channel the appointment allows (015's notice_queue, for appointments).
CREATE OR REPLACE PROCEDURE appt_notice_queue(IN p_no VARCHAR(32), IN p_event VARCHAR(16),
    IN p_note TEXT, IN p_ref VARCHAR(80))
	MODIFIES SQL DATA
BEGIN
	INSERT INTO notifications (id, case_no, hall_code, event, channel, to_addr, note, ref)
		SELECT UUID(), a.appointment_no, a.hall_code, p_event, 'sms', a.phone, p_note, p_ref
		FROM appointments a
		WHERE a.appointment_no = p_no AND a.notify AND notice_mobile(a.phone)
		ON DUPLICATE KEY UPDATE ref = ref;
	INSERT INTO notifications (id, case_no, hall_code, event, channel, to_addr, note, ref)
		SELECT UUID(), a.appointment_no, a.hall_code, p_event, 'email', a.email, p_note, p_ref
		FROM appointments a
		WHERE a.appointment_no = p_no AND a.notify AND COALESCE(a.email, '') <> ''
		ON DUPLICATE KEY UPDATE ref = ref;
END;

-- the decision moves the appointment, goes down to its hall, and a refusal is told
CREATE OR REPLACE TRIGGER appointment_events_downlink AFTER INSERT ON appointment_events
	FOR EACH ROW
BEGIN
	UPDATE appointments SET status = NEW.status, status_at = NEW.at,
				reason = IF(NEW.status = 'refused', NEW.reason, reason)
		WHERE appointment_no = NEW.appointment_no;
	INSERT INTO downlink (hall_code, kind, ref)
		SELECT hall_code, 'appt', NEW.seq FROM appointments
		WHERE appointment_no = NEW.appointment_no;
	IF NEW.status = 'refused' THEN
		CALL appt_notice_queue(NEW.appointment_no, 'refused', NEW.reason,
				       CONCAT('appt-event:', NEW.seq));
	END IF;
END;

-- a booking reached the county: the citizen gets its details (seed 4: 及时发送预约信息)
CREATE OR REPLACE TRIGGER appointments_notice AFTER INSERT ON appointments FOR EACH ROW
	CALL appt_notice_queue(NEW.appointment_no, 'booked', NULL,
			       CONCAT('appt:', NEW.appointment_no));

CREATE OR REPLACE SQL SECURITY DEFINER VIEW my_appt_events AS
	SELECT d.seq, e.appointment_no, e.status, e.reason,
	       DATE_FORMAT(e.at, '%Y-%m-%d %H:%i:%s') AS at
	FROM downlink d JOIN appointment_events e ON d.kind = 'appt' AND e.seq = d.ref
	WHERE d.hall_code = hall_self();

-- 001's, with the new kinds: a row whose target is gone is acknowledged like the rest, and
-- one whose target is there is not (a hall agent acknowledges what this view lists)
CREATE OR REPLACE SQL SECURITY DEFINER VIEW my_orphans AS
	SELECT d.seq FROM downlink d
	WHERE d.hall_code = hall_self()
	  AND NOT EXISTS (SELECT 1 FROM case_events e WHERE d.kind = 'event' AND e.seq = d.ref)
	  AND NOT EXISTS (SELECT 1 FROM guides g WHERE d.kind = 'guide' AND g.id = d.ref)
	  AND NOT EXISTS (SELECT 1 FROM calendars c WHERE d.kind = 'calendar' AND c.year = d.ref)
	  AND NOT EXISTS (SELECT 1 FROM appointment_schedules s WHERE d.kind = 'schedule'
			  AND s.hall_code = d.ref)
	  AND NOT EXISTS (SELECT 1 FROM appointment_events a WHERE d.kind = 'appt'
			  AND a.seq = d.ref);

-- ---- conflicts: booked appointments the schedule no longer has ----------------------------

-- From today on, each booked or confirmed appointment whose day the hall has closed, whose
-- day the calendar no longer makes a working day, or whose item, weekday and start the
-- hall's current schedule no longer has (a make-up workday, 调休上班, takes its own
-- weekday's slots or Monday's: both are looked for). `why`: closed, holiday, slot.
CREATE OR REPLACE SQL SECURITY DEFINER VIEW appointment_conflicts AS
	SELECT a.appointment_no, a.hall_code, a.item, a.item_name, a.date, a.start, a.`end`,
	       a.place, a.status, a.name, a.phone,
	       CASE WHEN s.hall_code IS NOT NULL AND JSON_CONTAINS(
				COALESCE(JSON_EXTRACT(s.body, '$.closed'), '[]'),
				JSON_QUOTE(DATE_FORMAT(a.date, '%Y-%m-%d'))) THEN 'closed'
		    WHEN NOT calendar_is_workday(a.date) THEN 'holiday'
		    ELSE 'slot' END AS why,
	       s.version
	FROM appointments a LEFT JOIN appointment_schedules s ON s.hall_code = a.hall_code
	WHERE a.status IN ('booked', 'confirmed') AND a.date >= CURDATE()
	  AND (s.hall_code IS NULL
	       OR JSON_CONTAINS(COALESCE(JSON_EXTRACT(s.body, '$.closed'), '[]'),
				JSON_QUOTE(DATE_FORMAT(a.date, '%Y-%m-%d')))
	       OR NOT calendar_is_workday(a.date)
	       OR NOT EXISTS (SELECT 1 FROM JSON_TABLE(s.body, '$.items[*]' COLUMNS (
				id VARCHAR(64) PATH '$.id',
				NESTED PATH '$.slots[*]' COLUMNS (
					weekday INT PATH '$.weekday',
					start VARCHAR(8) PATH '$.start'))) AS j
			      WHERE j.id = a.item AND j.start = a.start
				AND (j.weekday = WEEKDAY(a.date) + 1
				     OR (WEEKDAY(a.date) >= 5 AND j.weekday = 1))));

-- ---- reminders -------------------------------------------------------------------------

-- The reminder of every booked or confirmed appointment of the next working day after
-- today (calendar_is_workday, sql/county/008: on a Friday, Monday's, or the day after a
-- holiday week's), once per appointment and channel (ref remind:<appointment_no>), from
-- the county's reminder time on (county_settings 'appointment_reminder_from', "HH:MM",
-- default 08:00: no SMS wakes a citizen at midnight). county-notifier calls it once per
-- pass; the caller commits.
INSERT IGNORE INTO county_settings (name, value) VALUES ('appointment_reminder_from', '08:00');

CREATE OR REPLACE PROCEDURE appointment_reminders()
	MODIFIES SQL DATA SQL SECURITY DEFINER
BEGIN
	DECLARE v_day DATE DEFAULT CURDATE() + INTERVAL 1 DAY;
	DECLARE v_from TIME DEFAULT COALESCE((SELECT CAST(value AS TIME) FROM county_settings
					      WHERE name = 'appointment_reminder_from'),
					     TIME '08:00:00');
	DECLARE v_i INT DEFAULT 0;

	IF CURTIME() >= v_from THEN
		-- a holiday week is at most 8 days long; a year without a table is Mon-Fri
		WHILE NOT calendar_is_workday(v_day) AND v_i < 31 DO
			SET v_day = v_day + INTERVAL 1 DAY, v_i = v_i + 1;
		END WHILE;
		INSERT INTO notifications (id, case_no, hall_code, event, channel, to_addr, ref)
			SELECT UUID(), a.appointment_no, a.hall_code, 'reminder', 'sms', a.phone,
			       CONCAT('remind:', a.appointment_no)
			FROM appointments a
			WHERE a.date > CURDATE() AND a.date <= v_day
			  AND a.status IN ('booked', 'confirmed') AND a.notify
			  AND notice_mobile(a.phone)
			ON DUPLICATE KEY UPDATE ref = ref;
		INSERT INTO notifications (id, case_no, hall_code, event, channel, to_addr, ref)
			SELECT UUID(), a.appointment_no, a.hall_code, 'reminder', 'email', a.email,
			       CONCAT('remind:', a.appointment_no)
			FROM appointments a
			WHERE a.date > CURDATE() AND a.date <= v_day
			  AND a.status IN ('booked', 'confirmed') AND a.notify
			  AND COALESCE(a.email, '') <> ''
			ON DUPLICATE KEY UPDATE ref = ref;
	END IF;
END;

-- 1 when s begins with a real day "YYYY-MM-DD": checked by arithmetic, since STR_TO_DATE
-- of a day that does not exist is an error in a strict-mode UPDATE, which would fail the
-- hall's whole batch where the one record should be refused
CREATE OR REPLACE FUNCTION record_date_ok(s VARCHAR(64)) RETURNS BOOLEAN DETERMINISTIC
	RETURN COALESCE(s REGEXP '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])'
		AND CAST(SUBSTRING(s, 9, 2) AS UNSIGNED) <=
		    CASE CAST(SUBSTRING(s, 6, 2) AS UNSIGNED)
		    WHEN 2 THEN IF((CAST(LEFT(s, 4) AS UNSIGNED) % 4 = 0
				    AND CAST(LEFT(s, 4) AS UNSIGNED) % 100 <> 0)
				   OR CAST(LEFT(s, 4) AS UNSIGNED) % 400 = 0, 29, 28)
		    WHEN 4 THEN 30 WHEN 6 THEN 30 WHEN 9 THEN 30 WHEN 11 THEN 30
		    ELSE 31 END, FALSE);

-- ---- hall_upload: as 015's, and appointments ----------------------------------------------

-- Two more types, both for the county only (outbox.only_for 'county'); `case_no` carries
-- the appointment number, so the generic refusals (another hall's code in the id or the
-- number) apply as they are:
--   appointment  a booking: into appointments (a number held under another id, or by a
--                case, is refused; so is a record without a day, times, item or phone)
--   appt_event   the hall's news of it: cancelled, attended or no_show (any other status
--                is refused), the appointment's status
-- A code record (015) may name an appointment too: its new code goes by SMS to the
-- appointment's phone.
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
		       OR COALESCE(JSON_VALUE(p, '$.query_mac'), '') NOT REGEXP '^[0-9a-f]{64}$');
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
		       IF(JSON_VALUE(p, '$.query_mac') REGEXP '^[0-9a-f]{64}$',
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

-- ---- a hall restored from a backup (014): its schedule and decisions again ------------------

-- As 014's, and the hall's schedule and the county's decisions on its appointments from
-- today on: a store restored from a backup lacks them as it lacks the cases' events.
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
	INSERT INTO downlink (hall_code, kind, ref)
		SELECT v_hall, 'schedule', hall_code FROM appointment_schedules
		WHERE hall_code = v_hall;
	INSERT INTO downlink (hall_code, kind, ref)
		SELECT v_hall, 'appt', e.seq FROM appointment_events e
		JOIN appointments a ON a.appointment_no = e.appointment_no
		WHERE a.hall_code = v_hall AND a.date >= CURDATE()
		ORDER BY e.seq;
	UPDATE halls SET last_contact_at = CURRENT_TIMESTAMP WHERE hall_code = v_hall;
	-- record ids are "<hall_code>-<letter><number>" (SPEC 2)
	SELECT COALESCE(MAX(CAST(SUBSTRING(id, 15) AS UNSIGNED)), 0) AS last_seq
		FROM records WHERE hall_code = v_hall;
END;

-- ---- who may do what --------------------------------------------------------------------

-- a hall reads its own schedule and decisions, and acknowledges them with hall_ack
GRANT SELECT ON my_schedules TO hall_agent;
GRANT SELECT ON my_appt_events TO hall_agent;
GRANT EXECUTE ON PROCEDURE hall_restored TO hall_agent;

-- the console: reads the appointments (a page of them is audited, as a case page is),
-- decides them through appointment_events (the triggers do the rest), edits and publishes
-- schedules
GRANT SELECT ON appointments TO staff_console;
GRANT SELECT ON appointment_events TO staff_console;
GRANT INSERT (appointment_no, status, reason, actor) ON appointment_events TO staff_console;
GRANT SELECT ON appointment_schedules TO staff_console;
GRANT SELECT ON appointment_conflicts TO staff_console;
GRANT SELECT, INSERT, UPDATE, DELETE ON appointment_items TO staff_console;
GRANT SELECT, INSERT, UPDATE, DELETE ON appointment_slots TO staff_console;
GRANT SELECT, INSERT, UPDATE, DELETE ON appointment_closed TO staff_console;
GRANT EXECUTE ON PROCEDURE schedule_publish TO staff_console;

-- county systems read them; a decision is a person's, taken in the console
GRANT SELECT ON appointments TO county_reader;
GRANT SELECT ON appointment_events TO county_reader;
GRANT SELECT ON appointment_schedules TO county_reader;
GRANT SELECT ON appointment_conflicts TO county_reader;

-- the notifier: what an appointment's notice says, and the reminders it queues each pass
GRANT SELECT (appointment_no, hall_code, item_name, date, start, `end`, place, name)
	ON appointments TO county_notifier;
GRANT EXECUTE ON PROCEDURE appointment_reminders TO county_notifier;
