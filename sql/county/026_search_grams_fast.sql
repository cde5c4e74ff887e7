-- Issue 15: the search tokens made without a loop per character.
--
-- 019's search_grams walked its text one character at a time in the stored-program
-- interpreter, after a fold whose REGEXP was compiled on every call: 0.4 ms for a case of
-- 80 characters, which every upload paid in its cases_search trigger (7 of the 10.6 s a
-- county took for 10,000 records), and the link from a hall sat idle while the county cut
-- tokens (SPEC 9's drain over a weak link).
-- Here the text is written in UTF-32 first, eight hex digits a character, so that a token
-- (two neighbouring characters) is sixteen digits at a place that is known, and
-- REGEXP_REPLACE cuts them all in two passes inside the server's own code: the pairs that
-- start at the odd characters, then those that start at the even ones. The tokens are
-- still 'x' and hex, so everything 019 says of them holds (one FULLTEXT word each, no server
-- setting); only their hex is UTF-32's now, so the query functions change with them and
-- every case's tokens are written again below.
-- Every statement can run twice without harm.

-- 019's fold of full-width ASCII (Ａ１％, U+FF01..U+FF5E, EF BC 81 .. EF BD 9E in UTF-8) to
-- ASCII, as one expression: Chinese text nearly always holds some (the comma "，" is
-- U+FF0C), and 019's loop over every character was what made its tokens slow. Each
-- REPLACE is one scan of the text in the server's own code (generated: U+FF01 + i becomes
-- U+0021 + i; hex literals, so no character needs escaping).
CREATE OR REPLACE FUNCTION search_fold_wide(p TEXT) RETURNS TEXT
	DETERMINISTIC NO SQL
	RETURN
	REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(COALESCE(p, '')
		, _utf8mb4 X'EFBC81', _utf8mb4 X'21')
		, _utf8mb4 X'EFBC82', _utf8mb4 X'22')
		, _utf8mb4 X'EFBC83', _utf8mb4 X'23')
		, _utf8mb4 X'EFBC84', _utf8mb4 X'24')
		, _utf8mb4 X'EFBC85', _utf8mb4 X'25')
		, _utf8mb4 X'EFBC86', _utf8mb4 X'26')
		, _utf8mb4 X'EFBC87', _utf8mb4 X'27')
		, _utf8mb4 X'EFBC88', _utf8mb4 X'28')
		, _utf8mb4 X'EFBC89', _utf8mb4 X'29')
		, _utf8mb4 X'EFBC8A', _utf8mb4 X'2A')
		, _utf8mb4 X'EFBC8B', _utf8mb4 X'2B')
		, _utf8mb4 X'EFBC8C', _utf8mb4 X'2C')
		, _utf8mb4 X'EFBC8D', _utf8mb4 X'2D')
		, _utf8mb4 X'EFBC8E', _utf8mb4 X'2E')
		, _utf8mb4 X'EFBC8F', _utf8mb4 X'2F')
		, _utf8mb4 X'EFBC90', _utf8mb4 X'30')
		, _utf8mb4 X'EFBC91', _utf8mb4 X'31')
		, _utf8mb4 X'EFBC92', _utf8mb4 X'32')
		, _utf8mb4 X'EFBC93', _utf8mb4 X'33')
		, _utf8mb4 X'EFBC94', _utf8mb4 X'34')
		, _utf8mb4 X'EFBC95', _utf8mb4 X'35')
		, _utf8mb4 X'EFBC96', _utf8mb4 X'36')
		, _utf8mb4 X'EFBC97', _utf8mb4 X'37')
		, _utf8mb4 X'EFBC98', _utf8mb4 X'38')
		, _utf8mb4 X'EFBC99', _utf8mb4 X'39')
		, _utf8mb4 X'EFBC9A', _utf8mb4 X'3A')
		, _utf8mb4 X'EFBC9B', _utf8mb4 X'3B')
		, _utf8mb4 X'EFBC9C', _utf8mb4 X'3C')
		, _utf8mb4 X'EFBC9D', _utf8mb4 X'3D')
		, _utf8mb4 X'EFBC9E', _utf8mb4 X'3E')
		, _utf8mb4 X'EFBC9F', _utf8mb4 X'3F')
		, _utf8mb4 X'EFBCA0', _utf8mb4 X'40')
		, _utf8mb4 X'EFBCA1', _utf8mb4 X'41')
		, _utf8mb4 X'EFBCA2', _utf8mb4 X'42')
		, _utf8mb4 X'EFBCA3', _utf8mb4 X'43')
		, _utf8mb4 X'EFBCA4', _utf8mb4 X'44')
		, _utf8mb4 X'EFBCA5', _utf8mb4 X'45')
		, _utf8mb4 X'EFBCA6', _utf8mb4 X'46')
		, _utf8mb4 X'EFBCA7', _utf8mb4 X'47')
		, _utf8mb4 X'EFBCA8', _utf8mb4 X'48')
		, _utf8mb4 X'EFBCA9', _utf8mb4 X'49')
		, _utf8mb4 X'EFBCAA', _utf8mb4 X'4A')
		, _utf8mb4 X'EFBCAB', _utf8mb4 X'4B')
		, _utf8mb4 X'EFBCAC', _utf8mb4 X'4C')
		, _utf8mb4 X'EFBCAD', _utf8mb4 X'4D')
		, _utf8mb4 X'EFBCAE', _utf8mb4 X'4E')
		, _utf8mb4 X'EFBCAF', _utf8mb4 X'4F')
		, _utf8mb4 X'EFBCB0', _utf8mb4 X'50')
		, _utf8mb4 X'EFBCB1', _utf8mb4 X'51')
		, _utf8mb4 X'EFBCB2', _utf8mb4 X'52')
		, _utf8mb4 X'EFBCB3', _utf8mb4 X'53')
		, _utf8mb4 X'EFBCB4', _utf8mb4 X'54')
		, _utf8mb4 X'EFBCB5', _utf8mb4 X'55')
		, _utf8mb4 X'EFBCB6', _utf8mb4 X'56')
		, _utf8mb4 X'EFBCB7', _utf8mb4 X'57')
		, _utf8mb4 X'EFBCB8', _utf8mb4 X'58')
		, _utf8mb4 X'EFBCB9', _utf8mb4 X'59')
		, _utf8mb4 X'EFBCBA', _utf8mb4 X'5A')
		, _utf8mb4 X'EFBCBB', _utf8mb4 X'5B')
		, _utf8mb4 X'EFBCBC', _utf8mb4 X'5C')
		, _utf8mb4 X'EFBCBD', _utf8mb4 X'5D')
		, _utf8mb4 X'EFBCBE', _utf8mb4 X'5E')
		, _utf8mb4 X'EFBCBF', _utf8mb4 X'5F')
		, _utf8mb4 X'EFBD80', _utf8mb4 X'60')
		, _utf8mb4 X'EFBD81', _utf8mb4 X'61')
		, _utf8mb4 X'EFBD82', _utf8mb4 X'62')
		, _utf8mb4 X'EFBD83', _utf8mb4 X'63')
		, _utf8mb4 X'EFBD84', _utf8mb4 X'64')
		, _utf8mb4 X'EFBD85', _utf8mb4 X'65')
		, _utf8mb4 X'EFBD86', _utf8mb4 X'66')
		, _utf8mb4 X'EFBD87', _utf8mb4 X'67')
		, _utf8mb4 X'EFBD88', _utf8mb4 X'68')
		, _utf8mb4 X'EFBD89', _utf8mb4 X'69')
		, _utf8mb4 X'EFBD8A', _utf8mb4 X'6A')
		, _utf8mb4 X'EFBD8B', _utf8mb4 X'6B')
		, _utf8mb4 X'EFBD8C', _utf8mb4 X'6C')
		, _utf8mb4 X'EFBD8D', _utf8mb4 X'6D')
		, _utf8mb4 X'EFBD8E', _utf8mb4 X'6E')
		, _utf8mb4 X'EFBD8F', _utf8mb4 X'6F')
		, _utf8mb4 X'EFBD90', _utf8mb4 X'70')
		, _utf8mb4 X'EFBD91', _utf8mb4 X'71')
		, _utf8mb4 X'EFBD92', _utf8mb4 X'72')
		, _utf8mb4 X'EFBD93', _utf8mb4 X'73')
		, _utf8mb4 X'EFBD94', _utf8mb4 X'74')
		, _utf8mb4 X'EFBD95', _utf8mb4 X'75')
		, _utf8mb4 X'EFBD96', _utf8mb4 X'76')
		, _utf8mb4 X'EFBD97', _utf8mb4 X'77')
		, _utf8mb4 X'EFBD98', _utf8mb4 X'78')
		, _utf8mb4 X'EFBD99', _utf8mb4 X'79')
		, _utf8mb4 X'EFBD9A', _utf8mb4 X'7A')
		, _utf8mb4 X'EFBD9B', _utf8mb4 X'7B')
		, _utf8mb4 X'EFBD9C', _utf8mb4 X'7C')
		, _utf8mb4 X'EFBD9D', _utf8mb4 X'7D')
		, _utf8mb4 X'EFBD9E', _utf8mb4 X'7E');

-- The functions a case's tokens go through are each one expression: a function with a
-- BEGIN block and variables costs about 0.17 ms a call in MariaDB, a RETURN alone a few
-- microseconds. In UTF-8 full-width ASCII starts with the bytes EF BC or EF BD.
CREATE OR REPLACE FUNCTION search_fold(p TEXT) RETURNS TEXT
	DETERMINISTIC NO SQL
	RETURN LOWER(IF(LOCATE(X'EFBC', CAST(p AS BINARY)) > 0 OR
			LOCATE(X'EFBD', CAST(p AS BINARY)) > 0, search_fold_wide(p), COALESCE(p, '')));

-- A text's UTF-32 hex: eight digits a character.
CREATE OR REPLACE FUNCTION search_hex(t TEXT) RETURNS MEDIUMTEXT
	DETERMINISTIC NO SQL
	RETURN HEX(CONVERT(t USING utf32));

-- The tokens of a text's hex h: each character (eight digits) that has a next one becomes
-- 'x', the sixteen digits of the two, and a space (a lookahead reads the pair without
-- consuming the next character, so the pairs overlap: one REGEXP_REPLACE); the last
-- character alone ends it. The same tokens, in the same order, as 019's loop made.
CREATE OR REPLACE FUNCTION search_grams_hex(h MEDIUMTEXT) RETURNS MEDIUMTEXT
	DETERMINISTIC NO SQL
	RETURN IF(h = '', '', CONCAT(
		LEFT(REGEXP_REPLACE(h, '(?=([0-9A-F]{16}))[0-9A-F]{8}', 'x\\1 '),
		    (LENGTH(h) DIV 8 - 1) * 18),
		'x', RIGHT(h, 8)));

-- The search tokens of a text: each pair of neighbouring characters (lower case, as the
-- collation compares), and the last character alone, so that every character starts a token
-- and a one-character query is a prefix search. The order of the tokens does not matter.
CREATE OR REPLACE FUNCTION search_grams(p TEXT) RETURNS MEDIUMTEXT
	DETERMINISTIC NO SQL
	RETURN search_grams_hex(search_hex(search_fold(p)));

-- search_query(p) with only the tokens whose place in pick holds '1' (022 says why).
CREATE OR REPLACE FUNCTION search_query_pick(p VARCHAR(400), pick VARCHAR(400)) RETURNS TEXT
	DETERMINISTIC NO SQL
BEGIN
	DECLARE h TEXT DEFAULT search_hex(search_fold(p));
	DECLARE n INT DEFAULT CHAR_LENGTH(h) DIV 8;
	DECLARE i INT DEFAULT 1;
	DECLARE q TEXT DEFAULT '';

	IF n = 1 THEN
		RETURN IF(LEFT(pick, 1) = '1', CONCAT('x', h, '*'), '');
	END IF;
	WHILE i < n DO
		IF SUBSTRING(pick, i, 1) = '1' THEN
			SET q = CONCAT(q, IF(q = '', '', ' '), '+x', SUBSTRING(h, (i - 1) * 8 + 1, 16));
		END IF;
		SET i = i + 1;
	END WHILE;
	RETURN q;
END;

-- A query for MATCH ... AGAINST (... IN BOOLEAN MODE): every token of p required; a single
-- character: the tokens it starts. '' for an empty query.
CREATE OR REPLACE FUNCTION search_query(p VARCHAR(400)) RETURNS TEXT
	DETERMINISTIC NO SQL
	RETURN search_query_pick(p, REPEAT('1', 400));

GRANT EXECUTE ON FUNCTION search_query TO staff_console;
GRANT EXECUTE ON FUNCTION search_query_pick TO staff_console;

-- Every case's tokens again, in the new hex: the index dropped, the rows written (REPLACE:
-- 022 says why not UPDATE) 10,000 cases a transaction (a Galera write set stays small),
-- the index built once over all of them.
ALTER TABLE case_search DROP INDEX IF EXISTS case_search_grams;

CREATE OR REPLACE PROCEDURE search_rewrite_026()
	MODIFIES SQL DATA
BEGIN
	DECLARE v_last VARCHAR(32) DEFAULT '';
	DECLARE v_upto VARCHAR(32);

	chunks: LOOP
		SELECT MAX(k.case_no) INTO v_upto FROM (SELECT case_no FROM cases
			WHERE case_no > v_last ORDER BY case_no LIMIT 10000) k;
		IF v_upto IS NULL THEN
			LEAVE chunks;
		END IF;
		REPLACE INTO case_search (case_no, grams)
			SELECT case_no, case_grams(case_no, subject, body) FROM cases
			WHERE case_no > v_last AND case_no <= v_upto;
		COMMIT;
		SET v_last = v_upto;
	END LOOP;
END;

CALL search_rewrite_026();
DROP PROCEDURE IF EXISTS search_rewrite_026;
ALTER TABLE case_search ADD FULLTEXT INDEX IF NOT EXISTS case_search_grams (grams);
