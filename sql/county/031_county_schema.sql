-- The county says which schema it has, so that a hall's agent never delivers to a county
-- older than its records need (issue 15).
--
-- Since 030 a hall sends query-code MACs of 128 bits: a county before 030 refuses its code
-- records and files no MAC for its cases, so a hall upgraded before its county (the README
-- says: the county first) lost them. The agent now asks county_schema() before its first
-- batch and, on a county older than it needs (HALL_COUNTY_SCHEMA in
-- agent/hall-agent/sink_county.c), sends nothing and says why; its records wait in the
-- outbox until the county is migrated. A county before this migration has no
-- county_schema() at all, which the agent takes for "older".
--
-- The newest migration applied (schema_migrations, county-admin migrate) is the schema.
-- The hall's account reads no table; the function reads the one number as its definer.
CREATE OR REPLACE FUNCTION county_schema() RETURNS INT
	READS SQL DATA SQL SECURITY DEFINER
	RETURN (SELECT MAX(version) FROM schema_migrations);

GRANT EXECUTE ON FUNCTION county_schema TO hall_agent;
