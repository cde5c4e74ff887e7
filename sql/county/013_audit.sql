-- Issue 11 (SPEC 7): the staff console's audit log. Every sign-in (and refused sign-in),
-- sign-out, view of a case's full contact data and action is one row: who (the account
-- and its county), when (the database's clock), from which address (REMOTE_ADDR as nginx
-- passes it), what, on which case. The console writes a row in the transaction of the
-- action it records (fcgi/staff/audit.c); a county's admins read their county's rows on
-- the console's /audit page.
--
-- Nobody edits it: the console's role may only INSERT and SELECT (no UPDATE, DELETE, DROP,
-- ALTER, TRUNCATE or TRIGGER: it holds table grants only, none on the database), and the
-- triggers below refuse UPDATE to every account and DELETE but for the one maintenance
-- path, so an operator with the admin account cannot change a row by a slip either.

CREATE TABLE IF NOT EXISTS audit_log (
	id          BIGINT AUTO_INCREMENT PRIMARY KEY,
	at          DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
	-- the account's county: an admin reads the rows of its own county only. NULL: a
	-- refused sign-in under a name that is no account (no county's; read with SQL)
	county_code CHAR(6),
	account     VARCHAR(32) NOT NULL,      -- staff_accounts.username; '' for no account
	address     VARCHAR(64) NOT NULL,      -- the client's address as nginx saw it
	action      VARCHAR(32) NOT NULL,      -- signin, view, answer, ... (fcgi/staff/audit.c)
	case_no     VARCHAR(32),
	detail      VARCHAR(200) NOT NULL DEFAULT '',
	-- the admin page's filters: its county by date, or one account of it by date
	KEY audit_log_county_at (county_code, at),
	KEY audit_log_account_at (county_code, account, at),
	KEY audit_log_case (case_no)
) ENGINE = InnoDB;

-- The time of a row is the database's own, read with SYSDATE(), which SET timestamp does
-- not move: no client backdates a row.
CREATE OR REPLACE TRIGGER audit_log_at BEFORE INSERT ON audit_log FOR EACH ROW
	SET NEW.at = SYSDATE();

CREATE OR REPLACE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log FOR EACH ROW
	SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_log rows cannot be changed';

-- The maintenance path: an account with DELETE (the county's admin account, never the
-- console's) may remove rows older than 180 days, the least a network log is kept
-- (网络安全法 第二十一条), after SET @audit_log_purge = 1 in its session. Nothing else
-- removes a row.
CREATE OR REPLACE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log FOR EACH ROW
BEGIN
	IF NOT (@audit_log_purge <=> 1) OR OLD.at >= SYSDATE() - INTERVAL 180 DAY THEN
		SIGNAL SQLSTATE '45000'
			SET MESSAGE_TEXT = 'audit_log rows are kept (older than 180 days: SET @audit_log_purge = 1)';
	END IF;
END;

GRANT SELECT, INSERT ON audit_log TO staff_console;
