-- Personal data of appointments (SPEC 11, issue 14; lib/store/retention.c does it, as 004
-- did for cases).
--
-- An appointment that has ended (cancelled, refused, attended, no_show, or its day is
-- past) and whose records the county holds keeps what the citizen's lookup shows, the
-- phone masked as the lookup shows it (138****5678); its name becomes '' (the column is
-- NOT NULL since 008: '' says forgotten), its e-mail, note and retry key NULL. Its
-- outbox records keep only id and hash. Past [retention] days after its day it is deleted
-- with its events, records and resends.
ALTER TABLE appointments ADD COLUMN minimized_at INTEGER;	-- NULL: still whole
-- the appointments still whole: the few each minimization pass looks at
CREATE INDEX appointments_whole ON appointments (date) WHERE minimized_at IS NULL;
-- the minimized ones by their day: the daily purge's candidates, oldest first
CREATE INDEX appointments_minimized ON appointments (date) WHERE minimized_at IS NOT NULL;
