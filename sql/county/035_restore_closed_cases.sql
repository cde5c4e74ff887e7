-- A hall restored from a backup gets back the cases made after the backup that the county
-- has closed since, as well as the open ones (agent/hall-agent/restore_county.c).
--
-- my_open_cases (014) gives back only the hall's open cases. A case submitted after the
-- backup and resolved or rejected before the restore was in neither the backup nor that
-- view: the citizen's receipt then opened nothing at the hall (404), for good, though the
-- county holds the case and its answer.
--
--   my_cases   every case of the calling hall, with my_open_cases's columns and the
--              submission time in Unix seconds, so that the agent asks for the open ones
--              and those submitted since the restore's moment (the same moment from which
--              hall_restored queues the county's events again) and no more: a hall's five
--              years of closed cases are not sent down a weak link.
-- The agent reads it from a county that says schema 35 (county_schema()); before, it reads
-- my_open_cases as it did.

CREATE OR REPLACE SQL SECURITY DEFINER VIEW my_cases AS
	SELECT c.case_no, c.id,
	       (SELECT e.id FROM case_events e WHERE e.case_no = c.case_no AND e.origin = 'hall'
		AND e.status = 'received' ORDER BY e.seq LIMIT 1) AS received_id,
	       c.kind, c.category, c.subject, c.body, c.phone, c.item, c.target, c.status,
	       DATE_FORMAT(c.submitted_at, '%Y-%m-%d %H:%i:%s') AS submitted_at,
	       DATE_FORMAT(c.due_at, '%Y-%m-%d %H:%i:%s') AS due_at, c.due_provisional,
	       DATE_FORMAT(c.received_at, '%Y-%m-%d %H:%i:%s') AS delivered_at, m.query_mac,
	       UNIX_TIMESTAMP(c.submitted_at) AS submitted_unix
	FROM cases c LEFT JOIN case_query_macs m ON m.case_no = c.case_no
	WHERE c.hall_code = hall_self();

GRANT SELECT ON my_cases TO hall_agent;
