-- One batch of a hall at a time: a batch sent again never runs beside its first copy.
--
-- A hall sends a batch again when it lost the answer: after its read timeout, or over a new
-- connection once the old one died, or to another Galera node. The first copy's CALL may
-- still be running at the county. The two copies then ran side by side:
--   * held up at the same row, they deadlocked (1213; tests/e2e/test_sync.py,
--     OneBatchAtATimeTest), which the agent takes for a Galera conflict and sends again;
--   * at READ COMMITTED (021) they read the ledger and the tables at different moments: had
--     the first committed between the second's ledger check ("is this id held?": not yet)
--     and its later checks, the second would find the case number, the appointment number
--     or the rating held ("under another id", "already rated") and refuse records the
--     county holds, which the hall would set aside.
--
-- hall_upload_z now takes the hall's row of halls FOR UPDATE before the batch, in the
-- batch's own transaction (the agent's connection runs with autocommit off): a second copy
-- waits until the first has committed or rolled back, then finds its records in the ledger
-- (duplicates). hall_upload itself writes that row at its end, so the lock is one the batch
-- took anyway, only taken first; other halls' rows are not touched (hall_self() is one row
-- since 032). On a Galera cluster the first copy's commit, applied on the second's node,
-- aborts the second (1213), which the agent sends again. The body is 021's otherwise.
CREATE OR REPLACE PROCEDURE hall_upload_z(IN p_store CHAR(32), IN p_last_seq BIGINT,
    IN p_agent VARCHAR(32), IN p_backlog BIGINT, IN p_batch LONGBLOB, IN p_length BIGINT)
	MODIFIES SQL DATA SQL SECURITY DEFINER
BEGIN
	DECLARE v_batch LONGTEXT CHARACTER SET utf8mb4;
	DECLARE v_level VARCHAR(32) DEFAULT @@SESSION.tx_isolation;
	DECLARE v_hall CHAR(12);
	-- UNCOMPRESS's own complaints (a length too large, a damaged stream)
	DECLARE CONTINUE HANDLER FOR 1256, 1257, 1258, 1259 SET v_batch = NULL;
	DECLARE EXIT HANDLER FOR SQLEXCEPTION
	BEGIN
		SET SESSION tx_isolation = v_level;
		RESIGNAL;
	END;

	IF p_length BETWEEN 1 AND 0x3FFFFFFF THEN
		SET v_batch = CONVERT(UNCOMPRESS(CONCAT(
			CHAR(p_length & 255, (p_length >> 8) & 255, (p_length >> 16) & 255,
			     (p_length >> 24) & 63 USING binary), p_batch)) USING utf8mb4);
	END IF;
	IF v_batch IS NULL THEN
		SIGNAL SQLSTATE 'HY000' SET MYSQL_ERRNO = 1105,
			MESSAGE_TEXT = 'the compressed batch does not unpack';
	END IF;
	SET SESSION tx_isolation = 'READ-COMMITTED';
	-- the level applies from the transaction this statement begins
	SELECT hall_code INTO v_hall FROM halls WHERE hall_code = hall_self() FOR UPDATE;
	CALL hall_upload(p_store, p_last_seq, p_agent, p_backlog, v_batch);
	SET SESSION tx_isolation = v_level;
END;

-- a replaced routine keeps no grant of its own: the hall's, again
GRANT EXECUTE ON PROCEDURE hall_upload_z TO hall_agent;
