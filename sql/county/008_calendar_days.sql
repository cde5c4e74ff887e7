-- Issue 10: one source of truth for the working-day calendar. The C parser
-- (lib/core/calendar.c) decides every day, at the halls and here: whoever publishes a
-- year's calendar (the staff console, `county-admin import-calendars`) parses the text with
-- it and writes every day of that year into calendar_days, in the same transaction as the
-- calendars row (lib/county/calendar_days.c). The SQL below only looks the days up, so 差评
-- follow-up deadlines are counted on the very days the halls count case deadlines on, and
-- tests/e2e/test_calendar_days.py compares the two on every day.
--
-- A county that published calendars before this migration gets their days from
-- `county-admin migrate`, which fills every year of calendars that has none after it has
-- applied the files.

-- Every day of every year the county has published a calendar for: 365 or 366 rows a year,
-- never fewer. A year without rows has no table (SPEC 3: Monday to Friday, provisional).
CREATE TABLE IF NOT EXISTS calendar_days (
	day     DATE PRIMARY KEY,
	workday BOOLEAN NOT NULL
) ENGINE = InnoDB;

-- 1 when d is a working day: the county's decision for its day, else Monday to Friday. A
-- year is written whole or not at all, so a day without a row is a day of a year without a
-- table. (006's version re-parsed calendars.body with REGEXP for every day it was asked.)
CREATE OR REPLACE FUNCTION calendar_is_workday(d DATE) RETURNS BOOLEAN
	READS SQL DATA SQL SECURITY DEFINER
	RETURN COALESCE((SELECT workday FROM calendar_days WHERE day = d), WEEKDAY(d) < 5);

-- working_days_add (006) is unchanged: it asks calendar_is_workday for each day it counts.

-- The publishers write the days (an upsert of every day of the year: no DELETE); county-admin
-- runs as the county's admin account, which may do anything. Whoever reads the calendars
-- may read the days.
GRANT SELECT, INSERT, UPDATE ON calendar_days TO staff_console;
GRANT SELECT ON calendar_days TO county_reader;
