-- Issue 11: each hall's count of records its agent has set aside for the county (refused
-- on their own merits, or held here with other content), on its halls row, so the
-- dashboard shows a hall whose records wait for a person (hall-admin requeue). The agent
-- reports it when it connects and whenever the count changes; an agent older than this
-- migration leaves it 0.
ALTER TABLE halls ADD COLUMN IF NOT EXISTS quarantined BIGINT NOT NULL DEFAULT 0;

CREATE OR REPLACE PROCEDURE hall_quarantined(IN p_count BIGINT)
	MODIFIES SQL DATA SQL SECURITY DEFINER
	UPDATE halls SET quarantined = GREATEST(p_count, 0) WHERE hall_code = hall_self();

GRANT EXECUTE ON PROCEDURE hall_quarantined TO hall_agent;
