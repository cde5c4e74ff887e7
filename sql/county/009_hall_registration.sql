-- Issue 11: a hall account the county does not know (its halls row missing, or pointing at
-- another account: an operator's mistake, a half-done migration) is an error of the link,
-- never a refusal of the records. hall_self() now raises SQLSTATE 28000 (invalid
-- authorization) itself, so every procedure and view of the hall's side fails with it, and
-- the agent keeps the records in its backlog, backs off and shows the error. Before this,
-- hall_upload raised the same error number (1644) as for data the county cannot take, and an
-- agent that had connected before the registration went away set every record it sent
-- meanwhile aside. A refusal of a record on its own merits is a result row of hall_upload
-- that names the record, and nothing else.
CREATE OR REPLACE FUNCTION hall_self() RETURNS CHAR(12)
	READS SQL DATA SQL SECURITY DEFINER
BEGIN
	DECLARE v_hall CHAR(12) DEFAULT
		(SELECT hall_code FROM halls WHERE db_user = SUBSTRING_INDEX(USER(), '@', 1));

	IF v_hall IS NULL THEN
		SIGNAL SQLSTATE '28000'
			SET MESSAGE_TEXT = 'this account is not a registered hall at the county';
	END IF;
	RETURN v_hall;
END;
