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
