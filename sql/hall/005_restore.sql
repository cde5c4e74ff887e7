-- Backup and restore (issue 12; lib/store/restore.c).
--
-- A case the county sends back after a restore (a case made after the backup was taken)
-- comes without its query code, which no one but the hall and the citizen ever held: the
-- county keeps the code's MAC under this store's key (meta query_key, made by the first
-- case written), which every case record carries, and a backup holds. Such a case has
-- query_code '' and this MAC; the lookup checks a code against it (case.c).
ALTER TABLE cases ADD COLUMN query_mac TEXT;
