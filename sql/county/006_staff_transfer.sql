-- The staff console, issue 6: transfers between halls and counties (省内通办), 差评
-- follow-up deadlines in working days, and the sign-in limit per address. Every statement
-- can run twice without harm.

-- ---- transfers -------------------------------------------------------------------------

-- Who handles a case now: a county, and one of its halls or NULL for the county as a whole.
-- A case starts with the hall that took it. cases.hall_code never changes: it is where the
-- citizen holds the receipt, and the downlink keeps feeding that hall every event.
ALTER TABLE cases
	ADD COLUMN IF NOT EXISTS handler_county CHAR(6) NOT NULL DEFAULT (LEFT(hall_code, 6)),
	ADD COLUMN IF NOT EXISTS handler_hall CHAR(12) DEFAULT (hall_code),
	ADD INDEX IF NOT EXISTS cases_handler (handler_county, status);

-- A county event that moves the case names its target here: a hall's 12-digit code or a
-- county's 6-digit code. The triggers below check it, write the note the citizen reads,
-- and move the case; the console (or any county system) only inserts the event.
ALTER TABLE case_events ADD COLUMN IF NOT EXISTS transfer_to VARCHAR(12);

-- Optional names for county codes, for the transfer list and the citizen's note
-- ("转办至：浏阳市"); a county without a row is named by its code.
CREATE TABLE IF NOT EXISTS counties (
	county_code CHAR(6) PRIMARY KEY,
	name        VARCHAR(100) NOT NULL
) ENGINE = InnoDB;

-- Every move, in order: who had the case, who has it now, who moved it. A county that ever
-- handled a case may still read it (read-only) through these rows.
CREATE TABLE IF NOT EXISTS case_transfers (
	seq         BIGINT AUTO_INCREMENT PRIMARY KEY,
	case_no     VARCHAR(32) NOT NULL,
	event_seq   BIGINT NOT NULL UNIQUE,           -- the case_events row that moved it
	from_county CHAR(6) NOT NULL,
	from_hall   CHAR(12),
	to_county   CHAR(6) NOT NULL,
	to_hall     CHAR(12),                         -- NULL: the county as a whole
	actor       VARCHAR(64) NOT NULL,
	at          DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
	KEY case_transfers_case (case_no, seq),
	KEY case_transfers_from (from_county, case_no)
) ENGINE = InnoDB;

-- How a transfer target reads in a note: a hall's name, a county's name or code; NULL for
-- a target that is not a known hall or a county with a hall.
CREATE OR REPLACE FUNCTION transfer_target_words(p_to VARCHAR(12)) RETURNS VARCHAR(200)
	READS SQL DATA SQL SECURITY DEFINER
BEGIN
	IF p_to IS NULL OR p_to NOT REGEXP '^[0-9]{6}([0-9]{6})?$' THEN
		RETURN NULL;
	END IF;
	IF CHAR_LENGTH(p_to) = 12 THEN
		RETURN (SELECT name FROM halls WHERE hall_code = p_to);
	END IF;
	IF NOT EXISTS (SELECT 1 FROM halls WHERE county_code = p_to) THEN
		RETURN NULL;
	END IF;
	RETURN COALESCE((SELECT name FROM counties WHERE county_code = p_to),
			CONCAT('县（市、区）', p_to));
END;

-- Checks a transfer before it is stored, and writes what the citizen's hall will show.
CREATE OR REPLACE TRIGGER case_events_transfer_check BEFORE INSERT ON case_events
FOR EACH ROW
BEGIN
	DECLARE v_county CHAR(6);
	DECLARE v_hall CHAR(12);
	DECLARE v_words VARCHAR(200);

	IF NEW.transfer_to IS NOT NULL THEN
		IF NEW.status <> 'transferred' OR NEW.origin <> 'county' THEN
			SIGNAL SQLSTATE '45000'
				SET MESSAGE_TEXT = 'transfer_to belongs to a county event of status transferred';
		END IF;
		SET v_county = (SELECT handler_county FROM cases WHERE case_no = NEW.case_no);
		SET v_hall = (SELECT handler_hall FROM cases WHERE case_no = NEW.case_no);
		SET v_words = transfer_target_words(NEW.transfer_to);
		IF v_county IS NULL THEN
			SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'unknown case';
		END IF;
		IF v_words IS NULL THEN
			SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'unknown transfer target';
		END IF;
		IF NEW.transfer_to = v_county OR NEW.transfer_to = COALESCE(v_hall, '') THEN
			SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'the case is already there';
		END IF;
		SET NEW.note = CONCAT('转办至：', v_words,
				      IF(COALESCE(TRIM(NEW.note), '') = '', '', CONCAT('。', NEW.note)));
	END IF;
END;

-- Moves the case (with the definer's rights: the console has no UPDATE on cases).
CREATE OR REPLACE TRIGGER case_events_transfer AFTER INSERT ON case_events FOR EACH ROW
BEGIN
	IF NEW.transfer_to IS NOT NULL THEN
		INSERT INTO case_transfers (case_no, event_seq, from_county, from_hall, to_county,
		    to_hall, actor, at)
			SELECT case_no, NEW.seq, handler_county, handler_hall, LEFT(NEW.transfer_to, 6),
			       IF(CHAR_LENGTH(NEW.transfer_to) = 12, NEW.transfer_to, NULL), NEW.actor,
			       NEW.at
			FROM cases WHERE case_no = NEW.case_no;
		UPDATE cases SET handler_county = LEFT(NEW.transfer_to, 6),
				 handler_hall = IF(CHAR_LENGTH(NEW.transfer_to) = 12, NEW.transfer_to, NULL)
			WHERE case_no = NEW.case_no;
	END IF;
END;

-- ---- working days ----------------------------------------------------------------------

-- 1 when d is a working day by the county's calendars (conf/calendar/README.md): a year's
-- row counts only when it declares its year, as at the halls; a listed holiday is off, a
-- listed workday (调休上班) is on, any other day is Monday to Friday. The console refuses
-- a text that does not parse, so a line here is well formed.
CREATE OR REPLACE FUNCTION calendar_is_workday(d DATE) RETURNS BOOLEAN
	READS SQL DATA SQL SECURITY DEFINER
BEGIN
	DECLARE v_body TEXT DEFAULT (SELECT body FROM calendars WHERE year = YEAR(d));
	DECLARE v_day CHAR(10) DEFAULT DATE_FORMAT(d, '%Y-%m-%d');

	IF v_body IS NOT NULL AND
	    v_body REGEXP CONCAT('(?m-i)^[ \t]*year[ \t]+', YEAR(d), '[ \t\r]*$') THEN
		IF v_body REGEXP CONCAT('(?m-i)^[ \t]*', v_day, '[ \t]+holiday(?:[ \t\r]|$)') THEN
			RETURN FALSE;
		END IF;
		IF v_body REGEXP CONCAT('(?m-i)^[ \t]*', v_day, '[ \t]+workday(?:[ \t\r]|$)') THEN
			RETURN TRUE;
		END IF;
	END IF;
	RETURN WEEKDAY(d) < 5;
END;

-- 23:59:59 of the n-th working day after p_start's day (SPEC 3: counting starts the day
-- after). The loop stops after ten years of days whatever a calendar says.
CREATE OR REPLACE FUNCTION working_days_add(p_start DATETIME, p_n INT) RETURNS DATETIME
	READS SQL DATA SQL SECURITY DEFINER
BEGIN
	DECLARE v_day DATE DEFAULT DATE(p_start);
	DECLARE v_count INT DEFAULT 0;
	DECLARE v_steps INT DEFAULT 0;

	IF p_start IS NULL OR p_n IS NULL THEN
		RETURN NULL;
	END IF;
	WHILE v_count < p_n AND v_steps < 3660 DO
		SET v_day = v_day + INTERVAL 1 DAY;
		SET v_steps = v_steps + 1;
		IF calendar_is_workday(v_day) THEN
			SET v_count = v_count + 1;
		END IF;
	END WHILE;
	RETURN TIMESTAMP(v_day, '23:59:59');
END;

-- 差评 follow-up deadline: N working days (the handling county's 'followup_days:<county>',
-- else 'followup_days', else 5), counted like a case's deadline. Follow-ups already open
-- keep the deadline they were given.
CREATE OR REPLACE TRIGGER ratings_followup AFTER INSERT ON ratings FOR EACH ROW
	INSERT IGNORE INTO rating_followups (case_no, rating_id, hall_code, level, due_at)
		SELECT NEW.case_no, NEW.id, NEW.hall_code, NEW.level,
		       working_days_add(CURRENT_TIMESTAMP, COALESCE(
			   (SELECT CAST(value AS UNSIGNED) FROM county_settings
			    WHERE name = CONCAT('followup_days:', COALESCE(
				(SELECT handler_county FROM cases WHERE case_no = NEW.case_no),
				LEFT(NEW.hall_code, 6)))),
			   (SELECT CAST(value AS UNSIGNED) FROM county_settings
			    WHERE name = 'followup_days'), 5))
		FROM DUAL WHERE NEW.level <= 2;

-- ---- sign-in attempts per address ------------------------------------------------------

-- One row per refused sign-in, by client address (an IPv6 address by its /64): the
-- console refuses an address with too many in its window before it checks any password.
CREATE TABLE IF NOT EXISTS staff_login_failures (
	seq    BIGINT AUTO_INCREMENT PRIMARY KEY,
	remote VARCHAR(64) NOT NULL,
	at     DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
	KEY staff_login_failures_remote (remote, at),
	KEY staff_login_failures_at (at)
) ENGINE = InnoDB;

-- ---- grants ----------------------------------------------------------------------------

-- The console reads the moves and names; it transfers by inserting case_events (already
-- granted), and the triggers above move the case with the definer's rights. It keeps the
-- sign-in log, and deletes only its old rows.
GRANT SELECT ON case_transfers TO staff_console;
GRANT SELECT ON counties TO staff_console;
GRANT SELECT, INSERT, DELETE ON staff_login_failures TO staff_console;

GRANT SELECT ON case_transfers TO county_reader;
GRANT SELECT ON counties TO county_reader;
