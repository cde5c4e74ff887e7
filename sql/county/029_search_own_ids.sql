-- Issue 15: InnoDB numbers case_search's rows for its FULLTEXT index itself.
--
-- 019 declared case_search's FTS_DOC_ID, an AUTO_INCREMENT, so that the FULLTEXT index
-- could be dropped and built again without rebuilding the table. InnoDB refuses a declared
-- FTS_DOC_ID below the highest one any transaction has already put in the table ("Invalid
-- InnoDB FTS Doc ID", error 182). The trigger cases_search takes its number from the
-- AUTO_INCREMENT before the row goes in; a row whose insert then waited for a lock while
-- other halls' batches went in came too late, and the hall's whole batch was refused with
-- it: 218 batches, each sent again after the agent's backoff, when 300 halls reconnected
-- in tests/e2e/test_county_ingest.py. Without a declared column InnoDB gives each row its
-- hidden FTS_DOC_ID as it inserts it, under its own lock: nothing to refuse. (Dropping and
-- building the index again, which only a bulk load does, then rebuilds the table.)
--
-- One ALTER: the table copied once, its index built anew; at a million cases some minutes,
-- during which the halls' uploads wait for it (under Galera, the whole cluster: run it in a
-- quiet hour). Run again, it finds no FTS_DOC_ID column and does nothing.

CREATE OR REPLACE PROCEDURE search_own_ids_029()
	MODIFIES SQL DATA
BEGIN
	IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = DATABASE()
	           AND table_name = 'case_search' AND column_name = 'FTS_DOC_ID') THEN
		ALTER TABLE case_search DROP INDEX IF EXISTS case_search_grams,
			DROP INDEX FTS_DOC_ID_INDEX, DROP COLUMN FTS_DOC_ID,
			ADD FULLTEXT INDEX case_search_grams (grams);
	END IF;
END;

CALL search_own_ids_029();
DROP PROCEDURE IF EXISTS search_own_ids_029;
