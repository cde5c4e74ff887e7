-- Issue 15: the dashboard's remaining figures bounded at a county's size (SPEC 9: 300 halls,
-- 1,000,000 cases, under 200 ms and 100 KB), with no counter row that two writers update.
-- 020/024 summed the cases per hall and month; what the page still read row by row were
-- the notices (every notification of the county, for four numbers a channel), the 差评
-- follow-ups (joined to every case), the open cases (no index led with "open") and the
-- appointments (a row a hall, 300 of them). Here:
--
--   notices           no counter: waiting, given up, the oldest waiting and the sent in the
--                     last day are index ranges of notifications_oldest and
--                     notifications_sent (state, channel, time, hall), counted up to a cap
--                     by the page (fcgi/staff/notices.c), so a long gateway outage cannot
--                     make it slow. A counter per hall, channel and state (an earlier
--                     design) made every notice of a hall wait on the transaction holding
--                     that hall's row: one staff transaction left open stopped the hall.
--   rating_followups  carries the (county, hall) it counts under (stat_county, stat_hall,
--                     moved with its case on a transfer, by triggers that update the
--                     follow-up rows themselves); open, late and closed per hall are ranges
--                     of the index rating_followups_dash (stat_county, closed_at, stat_hall,
--                     due_at), read from the index alone. The closed ones need no counter:
--                     they are a few per cent of the ratings and the retention job
--                     (county_purge) deletes them with their cases, so the range stays a
--                     few thousand index entries.
--   cases_dash_open   an index over the open cases by (county, hall, deadline): the open,
--                     overdue and warning counts per hall read the open cases' entries only.
--   appt_day_stats    appointments per county, day and hall with a column per status. Too
--                     many rows for a range count (every booking of 40 days), so counted,
--                     as 024 counts the months: the triggers only insert a row of their
--                     own into appt_day_deltas (a UUID key: no two writers touch one row);
--                     appt_day_stats is a view of appt_day_folded and the deltas not yet
--                     folded; appt_day_fold (county-admin purge calls it) moves the deltas
--                     into the folded totals.
--
-- Galera: every table has a primary key, nothing relies on AUTO_INCREMENT order. Every
-- statement can run twice without harm: the backfills recompute the totals from the rows
-- (run the migration in a quiet moment: a row written meanwhile may count twice).

-- A county that ran the earlier design (counters updated in place: notice_counts,
-- followup_counts, the table appt_day_stats) loses its triggers and tables here.
DROP TRIGGER IF EXISTS notifications_count_ins;
DROP TRIGGER IF EXISTS notifications_count_upd;
DROP TRIGGER IF EXISTS notifications_count_del;
DROP TRIGGER IF EXISTS rating_followups_count_ins;
DROP TRIGGER IF EXISTS rating_followups_count_upd;
DROP TRIGGER IF EXISTS rating_followups_count_del;
DROP PROCEDURE IF EXISTS notice_count;
DROP PROCEDURE IF EXISTS followup_count;
DROP TABLE IF EXISTS notice_counts;
DROP TABLE IF EXISTS followup_counts;
BEGIN NOT ATOMIC
	IF EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE()
		   AND table_name = 'appt_day_stats' AND table_type = 'BASE TABLE') THEN
		DROP TABLE appt_day_stats;
	END IF;
END;

-- ---- notices ------------------------------------------------------------------------------

-- the waiting and given up (ranges of one state and channel; the oldest from its start) and
-- the sent in the last day (a day's range); hall_code in both so that the county's filter
-- needs no row
ALTER TABLE notifications
	ADD INDEX IF NOT EXISTS notifications_oldest (state, channel, created_at, hall_code),
	ADD INDEX IF NOT EXISTS notifications_sent (state, channel, sent_at, hall_code);

-- ---- 差评 follow-ups -----------------------------------------------------------------------

-- Where a follow-up counts: the county and hall handling its case (the county's code for a
-- case it handles with no hall), as hall_month_stats has it; the rating's hall when the
-- case is not (yet) at the county.
ALTER TABLE rating_followups
	ADD COLUMN IF NOT EXISTS stat_county CHAR(6) NULL,
	ADD COLUMN IF NOT EXISTS stat_hall VARCHAR(12) NULL,
	ADD INDEX IF NOT EXISTS rating_followups_dash (stat_county, closed_at, stat_hall, due_at);

CREATE OR REPLACE TRIGGER rating_followups_stat BEFORE INSERT ON rating_followups
	FOR EACH ROW
BEGIN
	DECLARE v_county CHAR(6) DEFAULT NULL;
	DECLARE v_hall VARCHAR(12) DEFAULT NULL;

	SELECT handler_county, COALESCE(handler_hall, handler_county) INTO v_county, v_hall
		FROM cases WHERE case_no = NEW.case_no;
	SET NEW.stat_county = COALESCE(v_county, LEFT(NEW.hall_code, 6)),
	    NEW.stat_hall = COALESCE(v_hall, NEW.hall_code);
END;

-- A transfer (or a case arriving after its rating) moves its follow-up with it.
CREATE OR REPLACE TRIGGER cases_followup_stat AFTER UPDATE ON cases FOR EACH ROW
	IF NOT (NEW.handler_county <=> OLD.handler_county
		AND NEW.handler_hall <=> OLD.handler_hall) THEN
		UPDATE rating_followups
			SET stat_county = NEW.handler_county,
			    stat_hall = COALESCE(NEW.handler_hall, NEW.handler_county)
			WHERE case_no = NEW.case_no AND NEW.handler_county IS NOT NULL;
	END IF;

CREATE OR REPLACE TRIGGER cases_followup_stat_ins AFTER INSERT ON cases FOR EACH ROW
	UPDATE rating_followups
		SET stat_county = NEW.handler_county,
		    stat_hall = COALESCE(NEW.handler_hall, NEW.handler_county)
		WHERE case_no = NEW.case_no AND NEW.handler_county IS NOT NULL;

UPDATE rating_followups f LEFT JOIN cases c ON c.case_no = f.case_no
	SET f.stat_county = COALESCE(c.handler_county, LEFT(f.hall_code, 6)),
	    f.stat_hall = COALESCE(c.handler_hall, c.handler_county, f.hall_code)
	WHERE NOT (f.stat_county <=> COALESCE(c.handler_county, LEFT(f.hall_code, 6))
		AND f.stat_hall <=> COALESCE(c.handler_hall, c.handler_county, f.hall_code));

-- ---- open cases ---------------------------------------------------------------------------

ALTER TABLE cases
	ADD INDEX IF NOT EXISTS cases_dash_open (handler_county, closed, handler_hall, due_at,
		submitted_at);

-- ---- appointments -------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS appt_day_folded (
	county_code CHAR(6) NOT NULL,
	date        DATE NOT NULL,
	hall_code   CHAR(12) NOT NULL,
	total       BIGINT NOT NULL DEFAULT 0,
	booked      BIGINT NOT NULL DEFAULT 0,
	confirmed   BIGINT NOT NULL DEFAULT 0,
	refused     BIGINT NOT NULL DEFAULT 0,
	cancelled   BIGINT NOT NULL DEFAULT 0,
	attended    BIGINT NOT NULL DEFAULT 0,
	no_show     BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (county_code, date, hall_code)
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS appt_day_deltas (
	id          CHAR(36) NOT NULL PRIMARY KEY,     -- UUID()
	county_code CHAR(6) NOT NULL,
	date        DATE NOT NULL,
	hall_code   CHAR(12) NOT NULL,
	total       BIGINT NOT NULL DEFAULT 0,
	booked      BIGINT NOT NULL DEFAULT 0,
	confirmed   BIGINT NOT NULL DEFAULT 0,
	refused     BIGINT NOT NULL DEFAULT 0,
	cancelled   BIGINT NOT NULL DEFAULT 0,
	attended    BIGINT NOT NULL DEFAULT 0,
	no_show     BIGINT NOT NULL DEFAULT 0,
	KEY appt_day_deltas_date (county_code, date, hall_code)
) ENGINE = InnoDB;

-- One row a fold at a time (see appt_day_fold).
CREATE TABLE IF NOT EXISTS appt_day_fold_lock (id TINYINT PRIMARY KEY) ENGINE = InnoDB;
INSERT IGNORE INTO appt_day_fold_lock VALUES (1);

CREATE OR REPLACE SQL SECURITY DEFINER VIEW appt_day_stats AS
	SELECT county_code, date, hall_code, total, booked, confirmed, refused, cancelled,
	       attended, no_show
	FROM appt_day_folded
	UNION ALL
	SELECT county_code, date, hall_code, total, booked, confirmed, refused, cancelled,
	       attended, no_show
	FROM appt_day_deltas;

GRANT SELECT ON appt_day_stats TO staff_console;
GRANT SELECT ON appt_day_stats TO county_reader;

CREATE OR REPLACE PROCEDURE appt_day_count(IN p_hall CHAR(12), IN p_date DATE,
    IN p_status VARCHAR(16), IN p_sign INT)
	MODIFIES SQL DATA SQL SECURITY DEFINER
	INSERT INTO appt_day_deltas (id, county_code, date, hall_code, total, booked, confirmed,
	    refused, cancelled, attended, no_show)
		VALUES (UUID(), LEFT(p_hall, 6), p_date, p_hall, p_sign,
			p_sign * (p_status = 'booked'), p_sign * (p_status = 'confirmed'),
			p_sign * (p_status = 'refused'), p_sign * (p_status = 'cancelled'),
			p_sign * (p_status = 'attended'), p_sign * (p_status = 'no_show'));

CREATE OR REPLACE TRIGGER appointments_count_ins AFTER INSERT ON appointments FOR EACH ROW
	CALL appt_day_count(NEW.hall_code, NEW.date, NEW.status, 1);

CREATE OR REPLACE TRIGGER appointments_count_upd AFTER UPDATE ON appointments FOR EACH ROW
	IF NOT (NEW.hall_code <=> OLD.hall_code AND NEW.date <=> OLD.date
		AND NEW.status <=> OLD.status) THEN
		CALL appt_day_count(OLD.hall_code, OLD.date, OLD.status, -1);
		CALL appt_day_count(NEW.hall_code, NEW.date, NEW.status, 1);
	END IF;

CREATE OR REPLACE TRIGGER appointments_count_del AFTER DELETE ON appointments FOR EACH ROW
	CALL appt_day_count(OLD.hall_code, OLD.date, OLD.status, -1);

-- Moves up to p_limit deltas into the folded totals, in the caller's transaction (commit
-- after it); answers one row: the deltas folded. As hall_stats_fold (024): folds wait for
-- each other on the lock row; under Galera the second of two on different nodes fails
-- certification on the deltas both delete, adding nothing.
CREATE OR REPLACE PROCEDURE appt_day_fold(IN p_limit INT)
	MODIFIES SQL DATA
BEGIN
	DECLARE v_n INT DEFAULT 0;

	SELECT id INTO v_n FROM appt_day_fold_lock WHERE id = 1 FOR UPDATE;
	CREATE OR REPLACE TEMPORARY TABLE appt_day_fold_ids (id CHAR(36) PRIMARY KEY);
	INSERT INTO appt_day_fold_ids (id) SELECT id FROM appt_day_deltas LIMIT p_limit;
	INSERT INTO appt_day_folded (county_code, date, hall_code, total, booked, confirmed,
	    refused, cancelled, attended, no_show)
		SELECT d.county_code, d.date, d.hall_code, SUM(d.total), SUM(d.booked),
		       SUM(d.confirmed), SUM(d.refused), SUM(d.cancelled), SUM(d.attended),
		       SUM(d.no_show)
		FROM appt_day_deltas d JOIN appt_day_fold_ids f ON f.id = d.id
		GROUP BY d.county_code, d.date, d.hall_code
		ON DUPLICATE KEY UPDATE total = total + VALUES(total),
			booked = booked + VALUES(booked), confirmed = confirmed + VALUES(confirmed),
			refused = refused + VALUES(refused), cancelled = cancelled + VALUES(cancelled),
			attended = attended + VALUES(attended), no_show = no_show + VALUES(no_show);
	DELETE d FROM appt_day_deltas d JOIN appt_day_fold_ids f ON f.id = d.id;
	SET v_n = ROW_COUNT();
	DROP TEMPORARY TABLE appt_day_fold_ids;
	SELECT v_n AS folded;
END;

DELETE FROM appt_day_deltas;
DELETE FROM appt_day_folded;
INSERT INTO appt_day_folded (county_code, date, hall_code, total, booked, confirmed, refused,
    cancelled, attended, no_show)
	SELECT LEFT(hall_code, 6), date, hall_code, COUNT(*), SUM(status = 'booked'),
	       SUM(status = 'confirmed'), SUM(status = 'refused'), SUM(status = 'cancelled'),
	       SUM(status = 'attended'), SUM(status = 'no_show')
	FROM appointments GROUP BY 1, 2, 3;
