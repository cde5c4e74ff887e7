-- The county staff console (SPEC 7): staff accounts and their sessions, 差评 follow-ups,
-- and the console's own least-privilege role. Every statement can run twice without harm.

-- One row per person. Passwords are libsodium crypto_pwhash_str strings (Argon2id, with
-- their own salt and limits); the console never stores or logs a password.
CREATE TABLE IF NOT EXISTS staff_accounts (
	id            BIGINT AUTO_INCREMENT PRIMARY KEY,
	username      VARCHAR(32) NOT NULL UNIQUE,
	display_name  VARCHAR(100) NOT NULL DEFAULT '',
	county_code   CHAR(6) NOT NULL,                -- sees the cases of halls 'county_code%'
	role          VARCHAR(16) NOT NULL,
	pw_hash       VARCHAR(255) NOT NULL,
	failed_logins INT NOT NULL DEFAULT 0,          -- wrong passwords since the last success
	locked_until  DATETIME,                        -- refused until then (lockout)
	disabled      BOOLEAN NOT NULL DEFAULT FALSE,
	created_at    DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
	last_login_at DATETIME,
	CONSTRAINT staff_role CHECK (role IN ('staff', 'supervisor', 'admin')),
	CONSTRAINT staff_county CHECK (county_code REGEXP '^[0-9]{6}$')
) ENGINE = InnoDB;

-- A login. The cookie holds a random token; only its SHA-256 is kept here, so a copy of
-- this table opens no session.
CREATE TABLE IF NOT EXISTS staff_sessions (
	token_hash   CHAR(64) PRIMARY KEY,
	account_id   BIGINT NOT NULL,
	created_at   DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
	last_seen_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
	expires_at   DATETIME NOT NULL,
	remote       VARCHAR(64) NOT NULL DEFAULT '',
	KEY staff_sessions_account (account_id),
	KEY staff_sessions_expiry (expires_at)
) ENGINE = InnoDB;

-- Settings the console and the triggers read: a name, or a name and a county
-- ('followup_days:430121'), which wins over the plain name for that county's halls.
CREATE TABLE IF NOT EXISTS county_settings (
	name  VARCHAR(64) PRIMARY KEY,
	value VARCHAR(255) NOT NULL
) ENGINE = InnoDB;
-- days a 差评 follow-up has, from the rating (calendar days); a county admin sets its own
INSERT IGNORE INTO county_settings (name, value) VALUES ('followup_days', '5');

-- 差评 follow-up (seed 7): a rating of 1 or 2 opens one, with its deadline fixed when it
-- opens; a supervisor closes it by recording the rectification (整改).
CREATE TABLE IF NOT EXISTS rating_followups (
	case_no       VARCHAR(32) PRIMARY KEY,
	rating_id     VARCHAR(64) NOT NULL,
	hall_code     CHAR(12) NOT NULL,
	level         TINYINT NOT NULL,
	opened_at     DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
	due_at        DATETIME NOT NULL,
	rectification TEXT,
	closed_by     VARCHAR(64),
	closed_at     DATETIME,
	KEY rating_followups_hall (hall_code, closed_at)
) ENGINE = InnoDB;

CREATE OR REPLACE TRIGGER ratings_followup AFTER INSERT ON ratings FOR EACH ROW
	INSERT IGNORE INTO rating_followups (case_no, rating_id, hall_code, level, due_at)
		SELECT NEW.case_no, NEW.id, NEW.hall_code, NEW.level,
		       CURRENT_TIMESTAMP + INTERVAL COALESCE(
			   (SELECT CAST(value AS UNSIGNED) FROM county_settings
			    WHERE name = CONCAT('followup_days:', LEFT(NEW.hall_code, 6))),
			   (SELECT CAST(value AS UNSIGNED) FROM county_settings
			    WHERE name = 'followup_days'), 5) DAY
		FROM DUAL WHERE NEW.level <= 2;

-- ratings that arrived before this migration
INSERT IGNORE INTO rating_followups (case_no, rating_id, hall_code, level, opened_at, due_at)
	SELECT case_no, id, hall_code, level, received_at, received_at + INTERVAL 5 DAY
	FROM ratings WHERE level <= 2;

-- The staff console's database account: reads what staff see, answers cases through
-- case_events (the triggers move the case and feed the downlink), publishes guides and
-- calendars, and keeps its own accounts, sessions and follow-ups. No DELETE but on
-- sessions; nothing on the sync tables but reading the halls' health.
CREATE ROLE IF NOT EXISTS staff_console;
GRANT SELECT ON cases TO staff_console;
GRANT SELECT, INSERT ON case_events TO staff_console;
GRANT SELECT ON ratings TO staff_console;
GRANT SELECT ON halls TO staff_console;
GRANT SELECT, INSERT, UPDATE ON guides TO staff_console;
GRANT SELECT, INSERT, UPDATE ON calendars TO staff_console;
GRANT SELECT, INSERT, UPDATE ON staff_accounts TO staff_console;
GRANT SELECT, INSERT, UPDATE, DELETE ON staff_sessions TO staff_console;
GRANT SELECT, INSERT, UPDATE ON county_settings TO staff_console;
GRANT SELECT, UPDATE ON rating_followups TO staff_console;

GRANT SELECT ON rating_followups TO county_reader;
