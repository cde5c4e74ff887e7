-- Issue 15: the staff inbox at a real county's size (SPEC 7, 9: 200 halls, 1,000,000 cases,
-- p99 under 100 ms for the inbox, its filters, deep pages and its Chinese text search).
--
-- 1. The inbox's order (overdue, then open by deadline, then the closed ones) is the order of
--    (closed, due_at, case_no): an overdue case is an open case whose due_at has passed, so
--    it sorts before the open ones still running. `closed` is stored, so that the order is
--    an index's order, the console pages by the last row's key (keyset) instead of an
--    OFFSET, and each filter has an index that starts with its own column.
-- 2. Text search: case_search holds, per case, its number, subject and body cut into
--    overlapping two-character tokens (search_grams), each written as 'x' and the hex of its
--    UTF-8 bytes, so that InnoDB's FULLTEXT parser sees every token as one word of at least
--    three characters, whatever the text is (Chinese, digits, punctuation): no server
--    setting (innodb_ft_min_token_size, stopwords) is needed, on one server or on every
--    node of a Galera cluster (SPEC 12: InnoDB only; Mroonga tables would not replicate).
--    The console asks for every token of the query (boolean mode), then checks the few
--    candidates with the same LIKE as before, so it finds exactly what LIKE found.
-- Every statement can run twice without harm.

ALTER TABLE cases
	ADD COLUMN IF NOT EXISTS closed BOOLEAN
		AS (status IN ('answered', 'resolved', 'rejected')) STORED,
	ADD INDEX IF NOT EXISTS cases_inbox (handler_county, closed, due_at, case_no),
	ADD INDEX IF NOT EXISTS cases_inbox_kind (handler_county, kind, closed, due_at, case_no),
	ADD INDEX IF NOT EXISTS cases_inbox_status (handler_county, status, closed, due_at, case_no),
	ADD INDEX IF NOT EXISTS cases_inbox_channel (handler_county, channel, closed, due_at,
		case_no),
	ADD INDEX IF NOT EXISTS cases_inbox_hall (handler_county, hall_code, closed, due_at, case_no),
	ADD INDEX IF NOT EXISTS cases_inbox_handler (handler_county, handler_hall, closed, due_at,
		case_no);

-- A text as the search compares it: lower case, and full-width ASCII (Ａ１％, which the
-- collation takes for A1%) as ASCII, so that the tokens find what LIKE finds.
CREATE OR REPLACE FUNCTION search_fold(p TEXT) RETURNS TEXT
	DETERMINISTIC NO SQL
BEGIN
	DECLARE t TEXT DEFAULT COALESCE(p, '');
	DECLARE i INT DEFAULT 1;
	DECLARE o BIGINT;

	IF t REGEXP '[\\x{FF01}-\\x{FF5E}]' THEN
		WHILE i <= CHAR_LENGTH(t) DO
			SET o = ORD(SUBSTRING(t, i, 1));
			IF o BETWEEN 0xEFBC81 AND 0xEFBD9E THEN
				SET t = INSERT(t, i, 1, CHAR((0xF000 | ((o >> 8) & 0x3F) << 6 | (o & 0x3F))
							     - 0xFEE0 USING utf8mb4));
			END IF;
			SET i = i + 1;
		END WHILE;
	END IF;
	RETURN LOWER(t);
END;

-- The search tokens of a text: each pair of neighbouring characters (lower case, as the
-- collation compares), and the last character alone, so that every character starts a token
-- and a one-character query is a prefix search. 'x' + hex: see above.
CREATE OR REPLACE FUNCTION search_grams(p TEXT) RETURNS MEDIUMTEXT
	DETERMINISTIC NO SQL
BEGIN
	DECLARE t TEXT DEFAULT search_fold(p);
	DECLARE n INT DEFAULT CHAR_LENGTH(t);
	DECLARE i INT DEFAULT 1;
	DECLARE g MEDIUMTEXT DEFAULT '';

	WHILE i < n DO
		SET g = CONCAT(g, 'x', HEX(SUBSTRING(t, i, 2)), ' ');
		SET i = i + 1;
	END WHILE;
	IF n > 0 THEN
		SET g = CONCAT(g, 'x', HEX(SUBSTRING(t, n, 1)));
	END IF;
	RETURN g;
END;

-- A query for MATCH ... AGAINST (... IN BOOLEAN MODE): every token of p required; a single
-- character: the tokens it starts. '' for an empty query. The console checks the candidates
-- with LIKE, so this needs only to find a superset of them.
CREATE OR REPLACE FUNCTION search_query(p VARCHAR(400)) RETURNS TEXT
	DETERMINISTIC NO SQL
BEGIN
	DECLARE t TEXT DEFAULT search_fold(p);
	DECLARE n INT DEFAULT CHAR_LENGTH(t);
	DECLARE i INT DEFAULT 1;
	DECLARE q TEXT DEFAULT '';

	IF n = 1 THEN
		RETURN CONCAT('x', HEX(t), '*');
	END IF;
	WHILE i < n DO
		SET q = CONCAT(q, IF(i = 1, '', ' '), '+x', HEX(SUBSTRING(t, i, 2)));
		SET i = i + 1;
	END WHILE;
	RETURN q;
END;

-- One row per case. FTS_DOC_ID is declared, so that the FULLTEXT index can be dropped and
-- built again (a bulk load) without rebuilding the table.
CREATE TABLE IF NOT EXISTS case_search (
	FTS_DOC_ID BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
	case_no    VARCHAR(32) NOT NULL PRIMARY KEY,
	grams      MEDIUMTEXT NOT NULL,
	UNIQUE KEY FTS_DOC_ID_INDEX (FTS_DOC_ID),
	FULLTEXT KEY case_search_grams (grams)
) ENGINE = InnoDB;

-- The three texts apart, so that no token spans two of them (LIKE does not either).
CREATE OR REPLACE FUNCTION case_grams(p_no VARCHAR(32), p_subject TEXT, p_body TEXT)
	RETURNS MEDIUMTEXT DETERMINISTIC NO SQL
	RETURN CONCAT(search_grams(p_no), ' ', search_grams(p_subject), ' ', search_grams(p_body));

CREATE OR REPLACE TRIGGER cases_search AFTER INSERT ON cases FOR EACH ROW
	FOLLOWS cases_notice
	INSERT INTO case_search (case_no, grams)
		VALUES (NEW.case_no, case_grams(NEW.case_no, NEW.subject, NEW.body))
		ON DUPLICATE KEY UPDATE grams = VALUES(grams);

CREATE OR REPLACE TRIGGER cases_search_upd AFTER UPDATE ON cases FOR EACH ROW
	IF NOT (NEW.subject <=> OLD.subject AND NEW.body <=> OLD.body) THEN
		UPDATE case_search SET grams = case_grams(NEW.case_no, NEW.subject, NEW.body)
			WHERE case_no = NEW.case_no;
	END IF;

CREATE OR REPLACE TRIGGER cases_search_purge AFTER DELETE ON cases FOR EACH ROW
	FOLLOWS cases_notice_purge
	DELETE FROM case_search WHERE case_no = OLD.case_no;

-- the cases already there
INSERT INTO case_search (case_no, grams)
	SELECT c.case_no, case_grams(c.case_no, c.subject, c.body) FROM cases c
	WHERE NOT EXISTS (SELECT 1 FROM case_search s WHERE s.case_no = c.case_no);

-- the console reads it (its account has SELECT on the tables it reads, sql/county/011)
GRANT SELECT ON case_search TO staff_console;
GRANT EXECUTE ON FUNCTION search_query TO staff_console;
