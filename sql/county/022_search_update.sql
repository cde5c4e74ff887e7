-- Issue 15: a case whose subject or body changes keeps its search tokens (sql/county/019).
--
-- case_search declares its own FTS_DOC_ID (so that the FULLTEXT index can be dropped and
-- built again without rebuilding the table), and InnoDB then refuses an UPDATE of the
-- indexed text that keeps the row's FTS_DOC_ID ("Invalid InnoDB FTS Doc ID"): 019's
-- triggers failed, and with them the change to the case. REPLACE deletes the row and
-- inserts it again, with a new FTS_DOC_ID from the AUTO_INCREMENT (under Galera each node
-- takes its own, auto_increment_offset).
-- Every statement can run twice without harm.

CREATE OR REPLACE TRIGGER cases_search AFTER INSERT ON cases FOR EACH ROW
	FOLLOWS cases_notice
	REPLACE INTO case_search (case_no, grams)
		VALUES (NEW.case_no, case_grams(NEW.case_no, NEW.subject, NEW.body));

CREATE OR REPLACE TRIGGER cases_search_upd AFTER UPDATE ON cases FOR EACH ROW
	IF NOT (NEW.subject <=> OLD.subject AND NEW.body <=> OLD.body) THEN
		REPLACE INTO case_search (case_no, grams)
			VALUES (NEW.case_no, case_grams(NEW.case_no, NEW.subject, NEW.body));
	END IF;

-- The query of search_query(p) with only the tokens whose place in `pick` holds '1' (the
-- first token: the first character of pick): the console leaves out the tokens it found
-- common in the rows it read, since InnoDB reads a token's whole list (a token in every
-- twentieth case costs a tenth of a second at a million cases), and the LIKE that checks
-- the candidates needs only a superset of them. '' when no token is picked.
CREATE OR REPLACE FUNCTION search_query_pick(p VARCHAR(400), pick VARCHAR(400)) RETURNS TEXT
	DETERMINISTIC NO SQL
BEGIN
	DECLARE t TEXT DEFAULT search_fold(p);
	DECLARE n INT DEFAULT CHAR_LENGTH(t);
	DECLARE i INT DEFAULT 1;
	DECLARE q TEXT DEFAULT '';

	IF n = 1 THEN
		RETURN IF(LEFT(pick, 1) = '1', CONCAT('x', HEX(t), '*'), '');
	END IF;
	WHILE i < n DO
		IF SUBSTRING(pick, i, 1) = '1' THEN
			SET q = CONCAT(q, IF(q = '', '', ' '), '+x', HEX(SUBSTRING(t, i, 2)));
		END IF;
		SET i = i + 1;
	END WHILE;
	RETURN q;
END;

GRANT EXECUTE ON FUNCTION search_query_pick TO staff_console;
