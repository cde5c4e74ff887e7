-- Issue 15: fleet health and the dashboard at a county's size. Every statement can run
-- twice without harm; everything certifies under Galera (primary keys on every table, no
-- reliance on AUTO_INCREMENT order: the summaries are keyed by hall and month).

-- ---- the heartbeat -----------------------------------------------------------------------

-- Each hall's health as its agent last reported it through hall_health (below). An agent
-- older than this migration keeps calling hall_hello: these stay NULL for its hall.
ALTER TABLE halls
	ADD COLUMN IF NOT EXISTS province_backlog BIGINT,       -- records not yet at the province
	ADD COLUMN IF NOT EXISTS province_quarantined BIGINT,   -- set aside for the province
	ADD COLUMN IF NOT EXISTS downlink_pending BIGINT,       -- downlink rows not acknowledged
	ADD COLUMN IF NOT EXISTS downlink_lag_s BIGINT,         -- age of the oldest of them, s
	ADD COLUMN IF NOT EXISTS clock_offset_ms BIGINT,        -- hall clock - county clock
	ADD COLUMN IF NOT EXISTS health_at DATETIME;             -- when hall_health last ran

-- The hall's heartbeat: what only the hall knows (its backlogs and set-aside records per
-- destination, its clock, its version), and what the county works out for it at that
-- moment: the downlink lag, i.e. how many downlink rows for this hall are still
-- unacknowledged and how old the oldest is (the agent calls this at the end of a pass,
-- after it pulled the downlink: a healthy hall reports 0), and the clock offset, the hall's
-- Unix time in milliseconds minus the county's own (positive: the hall is ahead).
-- p_province_backlog and p_province_quarantined are NULL for a hall with no province.
CREATE OR REPLACE PROCEDURE hall_health(IN p_backlog BIGINT, IN p_quarantined BIGINT,
    IN p_province_backlog BIGINT, IN p_province_quarantined BIGINT, IN p_hall_ms BIGINT,
    IN p_agent VARCHAR(32))
	MODIFIES SQL DATA SQL SECURITY DEFINER
BEGIN
	DECLARE v_hall CHAR(12) DEFAULT hall_self();
	DECLARE v_pending BIGINT DEFAULT 0;
	DECLARE v_oldest DATETIME DEFAULT NULL;

	IF v_hall IS NULL THEN
		SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'this account is not a hall';
	END IF;
	SELECT COUNT(*), MIN(created_at) INTO v_pending, v_oldest
		FROM downlink WHERE hall_code = v_hall;
	UPDATE halls SET backlog = GREATEST(COALESCE(p_backlog, 0), 0),
			 quarantined = GREATEST(COALESCE(p_quarantined, 0), 0),
			 province_backlog = p_province_backlog,
			 province_quarantined = p_province_quarantined,
			 downlink_pending = v_pending,
			 downlink_lag_s = IF(v_oldest IS NULL, 0,
				GREATEST(TIMESTAMPDIFF(SECOND, v_oldest, NOW()), 0)),
			 clock_offset_ms = IF(p_hall_ms IS NULL, NULL,
				p_hall_ms - CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)),
			 agent_version = p_agent,
			 last_contact_at = CURRENT_TIMESTAMP, health_at = CURRENT_TIMESTAMP
		WHERE hall_code = v_hall;
END;

GRANT EXECUTE ON PROCEDURE hall_health TO hall_agent;

-- A hall not heard from for this long is "silent": listed first on the dashboard and
-- flagged in /metrics. A county admin may set 'silent_after_minutes:<county>' for its own.
INSERT IGNORE INTO county_settings (name, value) VALUES ('silent_after_minutes', '60');

-- ---- the dashboard's summaries -----------------------------------------------------------

-- When a case first closed (answered, resolved or rejected by the county): the on-time
-- figure compares it with due_at. Set once, by the trigger below; the backfill takes the
-- first closing county event, as the dashboard counted before.
ALTER TABLE cases ADD COLUMN IF NOT EXISTS closed_at DATETIME;

-- The cases closed before this migration, before the triggers below exist: an UPDATE of
-- cases that read hall_month_stats (as this once did, to run only while it was empty)
-- while cases_stats_upd writes it is refused (error 1442), and a county holding closed
-- cases could not get past 019. Setting closed_at where it is missing is harmless twice.
UPDATE cases c SET c.closed_at = (SELECT MIN(e.at) FROM case_events e
		WHERE e.case_no = c.case_no AND e.origin = 'county'
		AND e.status IN ('answered', 'resolved', 'rejected'))
	WHERE c.closed_at IS NULL AND c.status IN ('answered', 'resolved', 'rejected');

-- Per county, hall (the hall handling the case, or the county's own code for a case it
-- handles with no hall) and month of submission: the cases, how they arrived, how many
-- closed and how many of those by their deadline; and per month of the rating, the
-- ratings and the satisfied ones (level 3 to 5). Kept by the triggers below, so the
-- dashboard sums a few thousand rows, never a million cases.
CREATE TABLE IF NOT EXISTS hall_month_stats (
	county_code CHAR(6) NOT NULL,
	hall_key    VARCHAR(12) NOT NULL,
	month       DATE NOT NULL,                    -- its first day
	submitted   BIGINT NOT NULL DEFAULT 0,
	closed      BIGINT NOT NULL DEFAULT 0,
	on_time     BIGINT NOT NULL DEFAULT 0,
	ratings     BIGINT NOT NULL DEFAULT 0,
	satisfied   BIGINT NOT NULL DEFAULT 0,
	ch_online   BIGINT NOT NULL DEFAULT 0,
	ch_window   BIGINT NOT NULL DEFAULT 0,
	ch_phone    BIGINT NOT NULL DEFAULT 0,
	ch_letter   BIGINT NOT NULL DEFAULT 0,
	ch_email    BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (county_code, month, hall_key)
) ENGINE = InnoDB;

GRANT SELECT ON hall_month_stats TO staff_console;
GRANT SELECT ON hall_month_stats TO county_reader;

-- Adds (p_sign 1) or takes away (-1) one case's share of its hall's month.
CREATE OR REPLACE PROCEDURE hall_stats_case(IN p_sign INT, IN p_county CHAR(6),
    IN p_hall CHAR(12), IN p_submitted DATETIME, IN p_status VARCHAR(16),
    IN p_closed_at DATETIME, IN p_due DATETIME, IN p_channel VARCHAR(16))
	MODIFIES SQL DATA SQL SECURITY DEFINER
BEGIN
	DECLARE v_closed INT DEFAULT p_status IN ('answered', 'resolved', 'rejected');
	DECLARE v_on_time INT DEFAULT v_closed AND p_closed_at IS NOT NULL AND p_closed_at <= p_due;

	INSERT INTO hall_month_stats (county_code, hall_key, month, submitted, closed, on_time,
	    ch_online, ch_window, ch_phone, ch_letter, ch_email)
		VALUES (p_county, COALESCE(p_hall, p_county),
			DATE_FORMAT(p_submitted, '%Y-%m-01'), p_sign, p_sign * v_closed,
			p_sign * v_on_time, p_sign * (p_channel = 'online'),
			p_sign * (p_channel = 'window'), p_sign * (p_channel = 'phone'),
			p_sign * (p_channel = 'letter'), p_sign * (p_channel = 'email'))
		ON DUPLICATE KEY UPDATE submitted = submitted + VALUES(submitted),
			closed = closed + VALUES(closed), on_time = on_time + VALUES(on_time),
			ch_online = ch_online + VALUES(ch_online),
			ch_window = ch_window + VALUES(ch_window),
			ch_phone = ch_phone + VALUES(ch_phone),
			ch_letter = ch_letter + VALUES(ch_letter),
			ch_email = ch_email + VALUES(ch_email);
END;

-- The first closing event from the county sets it, at that event's time (after
-- case_events_downlink moved the status: cases_stats_upd then counts it on time or late).
CREATE OR REPLACE TRIGGER case_events_closed_at AFTER INSERT ON case_events FOR EACH ROW
	UPDATE cases SET closed_at = NEW.at
		WHERE case_no = NEW.case_no AND closed_at IS NULL AND NEW.origin = 'county'
		AND NEW.status IN ('answered', 'resolved', 'rejected');

CREATE OR REPLACE TRIGGER cases_stats_ins AFTER INSERT ON cases FOR EACH ROW
	CALL hall_stats_case(1, NEW.handler_county, NEW.handler_hall, NEW.submitted_at,
	    NEW.status, NEW.closed_at, NEW.due_at, NEW.channel);

CREATE OR REPLACE TRIGGER cases_stats_upd AFTER UPDATE ON cases FOR EACH ROW
	IF NOT (NEW.handler_county <=> OLD.handler_county AND NEW.handler_hall <=> OLD.handler_hall
		AND NEW.status <=> OLD.status AND NEW.closed_at <=> OLD.closed_at
		AND NEW.due_at <=> OLD.due_at AND NEW.submitted_at <=> OLD.submitted_at
		AND NEW.channel <=> OLD.channel) THEN
		CALL hall_stats_case(-1, OLD.handler_county, OLD.handler_hall, OLD.submitted_at,
		    OLD.status, OLD.closed_at, OLD.due_at, OLD.channel);
		CALL hall_stats_case(1, NEW.handler_county, NEW.handler_hall, NEW.submitted_at,
		    NEW.status, NEW.closed_at, NEW.due_at, NEW.channel);
	END IF;

CREATE OR REPLACE TRIGGER cases_stats_del AFTER DELETE ON cases FOR EACH ROW
	CALL hall_stats_case(-1, OLD.handler_county, OLD.handler_hall, OLD.submitted_at,
	    OLD.status, OLD.closed_at, OLD.due_at, OLD.channel);

-- A rating counts in the month it was given, under the hall handling its case then.
CREATE OR REPLACE TRIGGER ratings_stats AFTER INSERT ON ratings FOR EACH ROW
	INSERT INTO hall_month_stats (county_code, hall_key, month, ratings, satisfied)
		SELECT COALESCE(c.handler_county, LEFT(NEW.hall_code, 6)),
		       COALESCE(c.handler_hall, c.handler_county, NEW.hall_code),
		       DATE_FORMAT(NEW.at, '%Y-%m-01'), 1, NEW.level >= 3
		FROM (SELECT 1) one LEFT JOIN cases c ON c.case_no = NEW.case_no
		ON DUPLICATE KEY UPDATE ratings = ratings + 1,
			satisfied = satisfied + VALUES(satisfied);

-- ---- the backfill, once ------------------------------------------------------------------
-- Only while the summaries are empty, so a second run adds nothing twice. On a live county
-- run the migration in a quiet moment: a case written between the two statements below
-- would count twice (its trigger, then the backfill).

CREATE TEMPORARY TABLE IF NOT EXISTS hall_month_fill (
	county_code CHAR(6), hall_key VARCHAR(12), month DATE, submitted BIGINT, closed BIGINT,
	on_time BIGINT, ratings BIGINT, satisfied BIGINT, ch_online BIGINT, ch_window BIGINT,
	ch_phone BIGINT, ch_letter BIGINT, ch_email BIGINT);
DELETE FROM hall_month_fill;
INSERT INTO hall_month_fill
	SELECT c.handler_county, COALESCE(c.handler_hall, c.handler_county),
	       DATE_FORMAT(c.submitted_at, '%Y-%m-01'), COUNT(*),
	       SUM(c.status IN ('answered', 'resolved', 'rejected')),
	       SUM(c.status IN ('answered', 'resolved', 'rejected') AND c.closed_at <= c.due_at),
	       0, 0, SUM(c.channel = 'online'), SUM(c.channel = 'window'),
	       SUM(c.channel = 'phone'), SUM(c.channel = 'letter'), SUM(c.channel = 'email')
	FROM cases c WHERE NOT EXISTS (SELECT 1 FROM hall_month_stats)
	GROUP BY 1, 2, 3;
INSERT INTO hall_month_fill
	SELECT COALESCE(c.handler_county, LEFT(r.hall_code, 6)),
	       COALESCE(c.handler_hall, c.handler_county, r.hall_code),
	       DATE_FORMAT(r.at, '%Y-%m-01'), 0, 0, 0, COUNT(*), SUM(r.level >= 3), 0, 0, 0, 0, 0
	FROM ratings r LEFT JOIN cases c ON c.case_no = r.case_no
	WHERE NOT EXISTS (SELECT 1 FROM hall_month_stats)
	GROUP BY 1, 2, 3;
INSERT INTO hall_month_stats
	SELECT county_code, hall_key, month, SUM(submitted), SUM(closed), SUM(on_time),
	       SUM(ratings), SUM(satisfied), SUM(ch_online), SUM(ch_window), SUM(ch_phone),
	       SUM(ch_letter), SUM(ch_email)
	FROM hall_month_fill WHERE NOT EXISTS (SELECT 1 FROM hall_month_stats)
	GROUP BY 1, 2, 3;
DROP TEMPORARY TABLE hall_month_fill;
