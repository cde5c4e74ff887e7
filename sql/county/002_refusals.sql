-- Records the county refused are shown at the county too (SPEC 5.1), and county systems
-- may read the sync bookkeeping. Also: acknowledgements lock only the rows acknowledged.

-- A record this county refused, as the hall's agent reported it or hall_upload decided.
CREATE TABLE IF NOT EXISTS refusals (
	record_id  VARCHAR(64) NOT NULL,
	hall_code  CHAR(12) NOT NULL,
	reason     VARCHAR(500) NOT NULL,
	payload    MEDIUMTEXT,
	at         DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
	PRIMARY KEY (record_id, hall_code)
) ENGINE = InnoDB;

-- The agent reports a record it quarantined because the county refused the whole batch
-- around it (hall_upload never got to answer for it).
CREATE OR REPLACE PROCEDURE hall_refusal(IN p_id VARCHAR(64), IN p_reason VARCHAR(500))
	MODIFIES SQL DATA SQL SECURITY DEFINER
BEGIN
	DECLARE v_hall CHAR(12) DEFAULT hall_self();

	IF v_hall IS NULL THEN
		SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'this account is not a hall';
	END IF;
	INSERT INTO refusals (record_id, hall_code, reason) VALUES (p_id, v_hall, p_reason)
		ON DUPLICATE KEY UPDATE reason = VALUES(reason), at = CURRENT_TIMESTAMP;
END;

-- Deletes by primary key, one row at a time: a join through the hall's index would lock
-- rows other county writers have inserted but not committed, and wait for them.
CREATE OR REPLACE PROCEDURE hall_ack(IN p_seqs LONGTEXT)
	MODIFIES SQL DATA SQL SECURITY DEFINER
BEGIN
	DECLARE v_hall CHAR(12) DEFAULT hall_self();
	DECLARE v_seq BIGINT;
	DECLARE v_done INT DEFAULT 0;
	DECLARE cur CURSOR FOR SELECT j.seq FROM JSON_TABLE(p_seqs, '$[*]' COLUMNS (seq BIGINT PATH '$')) AS j;
	DECLARE CONTINUE HANDLER FOR NOT FOUND SET v_done = 1;

	IF v_hall IS NULL THEN
		SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'this account is not a hall';
	END IF;
	OPEN cur;
	acks: LOOP
		FETCH cur INTO v_seq;
		IF v_done THEN
			LEAVE acks;
		END IF;
		DELETE FROM downlink WHERE seq = v_seq AND hall_code = v_hall;
	END LOOP;
	CLOSE cur;
	UPDATE halls SET last_contact_at = CURRENT_TIMESTAMP WHERE hall_code = v_hall;
END;

GRANT EXECUTE ON PROCEDURE hall_refusal TO hall_agent;
GRANT EXECUTE ON PROCEDURE hall_ack TO hall_agent;
GRANT SELECT ON refusals TO county_reader;
GRANT SELECT ON downlink TO county_reader;
GRANT SELECT ON hall_streams TO county_reader;
GRANT SELECT ON schema_migrations TO county_reader;
