-- Issue 15: the month summaries of 020 without a hot row.
--
-- 020 kept one row per county, hall and month, updated in place by the triggers on cases,
-- case_events and ratings. Every status change of a hall's cases then updated the same
-- row: two transactions on cases of one hall waited for each other (test_sync's
-- late-commit test hung on it: an open transaction on one case held the row the answer
-- to another case needed), and under Galera two nodes writing cases of one hall would
-- fail each other's certification. Now the triggers only insert: each change is a row
-- of its own in hall_month_deltas (a UUID key, so no two writers touch one row and no
-- AUTO_INCREMENT order is relied on), and `hall_month_stats` is a view of the folded
-- totals and the deltas not yet folded. Readers sum it, as they summed the table.
-- hall_stats_fold (county-admin purge calls it) moves the deltas into the totals.
-- Every statement can run twice without harm.

BEGIN NOT ATOMIC
	IF EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE()
		   AND table_name = 'hall_month_stats' AND table_type = 'BASE TABLE')
	   AND NOT EXISTS (SELECT 1 FROM information_schema.tables
			   WHERE table_schema = DATABASE() AND table_name = 'hall_month_folded')
	THEN
		RENAME TABLE hall_month_stats TO hall_month_folded;
	END IF;
END;

CREATE TABLE IF NOT EXISTS hall_month_deltas (
	id          CHAR(36) NOT NULL PRIMARY KEY,     -- UUID()
	county_code CHAR(6) NOT NULL,
	hall_key    VARCHAR(12) NOT NULL,
	month       DATE NOT NULL,
	submitted   BIGINT NOT NULL DEFAULT 0,
	closed      BIGINT NOT NULL DEFAULT 0,
	on_time     BIGINT NOT NULL DEFAULT 0,
	ratings     BIGINT NOT NULL DEFAULT 0,
	satisfied   BIGINT NOT NULL DEFAULT 0,
	ch_online   BIGINT NOT NULL DEFAULT 0,
	ch_window   BIGINT NOT NULL DEFAULT 0,
	ch_phone    BIGINT NOT NULL DEFAULT 0,
	ch_letter   BIGINT NOT NULL DEFAULT 0,
	ch_email    BIGINT NOT NULL DEFAULT 0,
	KEY hall_month_deltas_month (county_code, month, hall_key)
) ENGINE = InnoDB;

-- One row a fold at a time (see hall_stats_fold).
CREATE TABLE IF NOT EXISTS hall_month_fold_lock (id TINYINT PRIMARY KEY) ENGINE = InnoDB;
INSERT IGNORE INTO hall_month_fold_lock VALUES (1);

CREATE OR REPLACE SQL SECURITY DEFINER VIEW hall_month_stats AS
	SELECT county_code, hall_key, month, submitted, closed, on_time, ratings, satisfied,
	       ch_online, ch_window, ch_phone, ch_letter, ch_email
	FROM hall_month_folded
	UNION ALL
	SELECT county_code, hall_key, month, submitted, closed, on_time, ratings, satisfied,
	       ch_online, ch_window, ch_phone, ch_letter, ch_email
	FROM hall_month_deltas;

GRANT SELECT ON hall_month_stats TO staff_console;
GRANT SELECT ON hall_month_stats TO county_reader;

-- As 020's, with an insert of its own instead of an update of the hall's month.
CREATE OR REPLACE PROCEDURE hall_stats_case(IN p_sign INT, IN p_county CHAR(6),
    IN p_hall CHAR(12), IN p_submitted DATETIME, IN p_status VARCHAR(16),
    IN p_closed_at DATETIME, IN p_due DATETIME, IN p_channel VARCHAR(16))
	MODIFIES SQL DATA SQL SECURITY DEFINER
BEGIN
	DECLARE v_closed INT DEFAULT p_status IN ('answered', 'resolved', 'rejected');
	DECLARE v_on_time INT DEFAULT v_closed AND p_closed_at IS NOT NULL AND p_closed_at <= p_due;

	INSERT INTO hall_month_deltas (id, county_code, hall_key, month, submitted, closed,
	    on_time, ch_online, ch_window, ch_phone, ch_letter, ch_email)
		VALUES (UUID(), p_county, COALESCE(p_hall, p_county),
			DATE_FORMAT(p_submitted, '%Y-%m-01'), p_sign, p_sign * v_closed,
			p_sign * v_on_time, p_sign * (p_channel = 'online'),
			p_sign * (p_channel = 'window'), p_sign * (p_channel = 'phone'),
			p_sign * (p_channel = 'letter'), p_sign * (p_channel = 'email'));
END;

CREATE OR REPLACE TRIGGER ratings_stats AFTER INSERT ON ratings FOR EACH ROW
	INSERT INTO hall_month_deltas (id, county_code, hall_key, month, ratings, satisfied)
		SELECT UUID(), COALESCE(c.handler_county, LEFT(NEW.hall_code, 6)),
		       COALESCE(c.handler_hall, c.handler_county, NEW.hall_code),
		       DATE_FORMAT(NEW.at, '%Y-%m-01'), 1, NEW.level >= 3
		FROM (SELECT 1) one LEFT JOIN cases c ON c.case_no = NEW.case_no;

-- Moves up to p_limit deltas into the folded totals, in the caller's transaction (commit
-- after it); answers one row: the deltas folded. Folds wait for each other on the lock
-- row, so two never add the same deltas; under Galera two on different nodes both delete
-- the same deltas and the second fails certification, adding nothing.
CREATE OR REPLACE PROCEDURE hall_stats_fold(IN p_limit INT)
	MODIFIES SQL DATA
BEGIN
	DECLARE v_n INT DEFAULT 0;

	SELECT id INTO v_n FROM hall_month_fold_lock WHERE id = 1 FOR UPDATE;
	CREATE OR REPLACE TEMPORARY TABLE hall_month_fold (id CHAR(36) PRIMARY KEY);
	INSERT INTO hall_month_fold (id) SELECT id FROM hall_month_deltas LIMIT p_limit;
	INSERT INTO hall_month_folded (county_code, hall_key, month, submitted, closed, on_time,
	    ratings, satisfied, ch_online, ch_window, ch_phone, ch_letter, ch_email)
		SELECT d.county_code, d.hall_key, d.month, SUM(d.submitted), SUM(d.closed),
		       SUM(d.on_time), SUM(d.ratings), SUM(d.satisfied), SUM(d.ch_online),
		       SUM(d.ch_window), SUM(d.ch_phone), SUM(d.ch_letter), SUM(d.ch_email)
		FROM hall_month_deltas d JOIN hall_month_fold f ON f.id = d.id
		GROUP BY d.county_code, d.month, d.hall_key
		ON DUPLICATE KEY UPDATE submitted = submitted + VALUES(submitted),
			closed = closed + VALUES(closed), on_time = on_time + VALUES(on_time),
			ratings = ratings + VALUES(ratings),
			satisfied = satisfied + VALUES(satisfied),
			ch_online = ch_online + VALUES(ch_online),
			ch_window = ch_window + VALUES(ch_window),
			ch_phone = ch_phone + VALUES(ch_phone),
			ch_letter = ch_letter + VALUES(ch_letter),
			ch_email = ch_email + VALUES(ch_email);
	DELETE d FROM hall_month_deltas d JOIN hall_month_fold f ON f.id = d.id;
	SET v_n = ROW_COUNT();
	DROP TEMPORARY TABLE hall_month_fold;
	SELECT v_n AS folded;
END;
