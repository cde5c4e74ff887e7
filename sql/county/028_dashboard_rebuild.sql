-- Issue 15: the dashboard's summaries made again from the rows they count.
--
-- The triggers of 020, 024 and 025 keep the summaries as the rows change; dashboard_rebuild()
-- computes the same figures from the rows themselves and puts them in place of what the
-- triggers wrote:
--
--   cases.closed_at           the first closing county event, where a closed case lacks it
--   hall_month_folded/deltas  cases per county, hall and month of submission (how many,
--                             by which channel, closed, closed in time) and ratings per
--                             month of the rating, folded, with no deltas left
--   rating_followups          stat_county and stat_hall: where its case is handled now
--   appt_day_folded/deltas    appointments per county, day and hall and status, folded
--
-- What it is for:
--   - a bulk load (tests/bench/dash_sections.py loads a million cases with the triggers set
--     aside, as a county moving from another system would, then calls this once);
--   - a check: the summaries the triggers kept must equal the rebuilt ones
--     (tests/e2e/test_dash_counts.py compares them after real traffic).
--
-- Run it in a quiet moment: it holds both fold locks (so no county-admin purge folds
-- meanwhile), but a row written by a hall while it runs may be counted twice or not at all
-- until the next rebuild. One transaction (the caller commits); Galera: every table it
-- writes has a primary key, and it writes no AUTO_INCREMENT.

CREATE OR REPLACE PROCEDURE dashboard_rebuild()
	MODIFIES SQL DATA
BEGIN
	DECLARE v_lock INT DEFAULT 0;

	SELECT id INTO v_lock FROM hall_month_fold_lock WHERE id = 1 FOR UPDATE;
	SELECT id INTO v_lock FROM appt_day_fold_lock WHERE id = 1 FOR UPDATE;

	UPDATE cases c SET c.closed_at = (SELECT MIN(e.at) FROM case_events e
			WHERE e.case_no = c.case_no AND e.origin = 'county'
			AND e.status IN ('answered', 'resolved', 'rejected'))
		WHERE c.closed_at IS NULL AND c.status IN ('answered', 'resolved', 'rejected');

	-- the cases and the ratings of each (county, hall, month), as the triggers count them
	DELETE FROM hall_month_deltas;
	DELETE FROM hall_month_folded;
	INSERT INTO hall_month_folded (county_code, hall_key, month, submitted, closed, on_time,
	    ratings, satisfied, ch_online, ch_window, ch_phone, ch_letter, ch_email)
		SELECT county_code, hall_key, month, SUM(submitted), SUM(closed), SUM(on_time),
		       SUM(ratings), SUM(satisfied), SUM(ch_online), SUM(ch_window),
		       SUM(ch_phone), SUM(ch_letter), SUM(ch_email)
		FROM (SELECT c.handler_county AS county_code,
			     COALESCE(c.handler_hall, c.handler_county) AS hall_key,
			     DATE_FORMAT(c.submitted_at, '%Y-%m-01') AS month,
			     1 AS submitted,
			     c.status IN ('answered', 'resolved', 'rejected') AS closed,
			     c.status IN ('answered', 'resolved', 'rejected')
				AND c.closed_at IS NOT NULL AND c.closed_at <= c.due_at AS on_time,
			     0 AS ratings, 0 AS satisfied,
			     c.channel = 'online' AS ch_online, c.channel = 'window' AS ch_window,
			     c.channel = 'phone' AS ch_phone, c.channel = 'letter' AS ch_letter,
			     c.channel = 'email' AS ch_email
		      FROM cases c
		      UNION ALL
		      SELECT COALESCE(c.handler_county, LEFT(r.hall_code, 6)),
			     COALESCE(c.handler_hall, c.handler_county, r.hall_code),
			     DATE_FORMAT(r.at, '%Y-%m-01'), 0, 0, 0, 1, r.level >= 3, 0, 0, 0, 0, 0
		      FROM ratings r LEFT JOIN cases c ON c.case_no = r.case_no) AS one
		GROUP BY county_code, hall_key, month;

	UPDATE rating_followups f LEFT JOIN cases c ON c.case_no = f.case_no
		SET f.stat_county = COALESCE(c.handler_county, LEFT(f.hall_code, 6)),
		    f.stat_hall = COALESCE(c.handler_hall, c.handler_county, f.hall_code)
		WHERE NOT (f.stat_county <=> COALESCE(c.handler_county, LEFT(f.hall_code, 6))
			AND f.stat_hall <=> COALESCE(c.handler_hall, c.handler_county, f.hall_code));

	DELETE FROM appt_day_deltas;
	DELETE FROM appt_day_folded;
	INSERT INTO appt_day_folded (county_code, date, hall_code, total, booked, confirmed,
	    refused, cancelled, attended, no_show)
		SELECT LEFT(hall_code, 6), date, hall_code, COUNT(*), SUM(status = 'booked'),
		       SUM(status = 'confirmed'), SUM(status = 'refused'), SUM(status = 'cancelled'),
		       SUM(status = 'attended'), SUM(status = 'no_show')
		FROM appointments GROUP BY 1, 2, 3;
END;
