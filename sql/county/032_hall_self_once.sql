-- Issue 15: one hall's call never waits on another hall's row.
--
-- hall_self() was NOT DETERMINISTIC (the default), so MariaDB called it for every row a
-- statement looked at and could use no index on the column compared with it:
--   * hall_quarantined's UPDATE halls ... WHERE hall_code = hall_self() scanned every hall's
--     row with exclusive locks (the agent's REPEATABLE READ keeps them to the commit), so
--     every hall reporting its set-aside count queued behind every other. When 300 halls
--     reconnected at once, 150 of them waited on the first row of halls, the statements ran
--     for minutes and the yardstick run got "Lock wait timeout exceeded";
--   * the views a hall reads (my_events, my_guides, my_calendars, my_orphans, my_streams,
--     the appointment views) read every hall's downlink and stream rows, and then kept
--     their own.
-- The function reads the hall of the session's login (USER()), which cannot change during a
-- statement: DETERMINISTIC says so, and MariaDB then evaluates it once per statement and
-- looks the hall up by its index (one row of halls, the hall's own downlink rows).
-- Nothing in its result or its refusal changes. The body is 009's, restated: ALTER FUNCTION
-- cannot change DETERMINISTIC, only CREATE OR REPLACE can.
CREATE OR REPLACE FUNCTION hall_self() RETURNS CHAR(12)
	DETERMINISTIC READS SQL DATA SQL SECURITY DEFINER
BEGIN
	DECLARE v_hall CHAR(12) DEFAULT
		(SELECT hall_code FROM halls WHERE db_user = SUBSTRING_INDEX(USER(), '@', 1));

	IF v_hall IS NULL THEN
		SIGNAL SQLSTATE '28000'
			SET MESSAGE_TEXT = 'this account is not a registered hall at the county';
	END IF;
	RETURN v_hall;
END;
