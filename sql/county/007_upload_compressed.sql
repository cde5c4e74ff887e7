-- hall_upload_z: hall_upload with the batch compressed by the agent as one zlib stream
-- (p_batch) and the length it unpacks to (p_length), which together make the format of
-- MariaDB's COMPRESS(). The length comes apart because the agent learns it only after it
-- has streamed the batch. One stream over the whole batch compresses better than the
-- protocol's per-packet compression, and on a 2G link the bytes are the time. Same results,
-- same guarantees: it only unpacks the batch and hands it to hall_upload.
--
-- A batch that does not unpack is damage in transit or a bug, never the records' fault:
-- it is refused with MYSQL_ERRNO 1105, which the agent takes as "send again later", not as
-- a refusal of the records.
CREATE OR REPLACE PROCEDURE hall_upload_z(IN p_store CHAR(32), IN p_last_seq BIGINT,
    IN p_agent VARCHAR(32), IN p_backlog BIGINT, IN p_batch LONGBLOB, IN p_length BIGINT)
	MODIFIES SQL DATA SQL SECURITY DEFINER
BEGIN
	DECLARE v_batch LONGTEXT CHARACTER SET utf8mb4;
	-- UNCOMPRESS's own complaints (a length too large, a damaged stream)
	DECLARE CONTINUE HANDLER FOR 1256, 1257, 1258, 1259 SET v_batch = NULL;

	IF p_length BETWEEN 1 AND 0x3FFFFFFF THEN
		SET v_batch = CONVERT(UNCOMPRESS(CONCAT(
			CHAR(p_length & 255, (p_length >> 8) & 255, (p_length >> 16) & 255,
			     (p_length >> 24) & 63 USING binary), p_batch)) USING utf8mb4);
	END IF;
	IF v_batch IS NULL THEN
		SIGNAL SQLSTATE 'HY000' SET MYSQL_ERRNO = 1105,
			MESSAGE_TEXT = 'the compressed batch does not unpack';
	END IF;
	CALL hall_upload(p_store, p_last_seq, p_agent, p_backlog, v_batch);
END;

GRANT EXECUTE ON PROCEDURE hall_upload_z TO hall_agent;
