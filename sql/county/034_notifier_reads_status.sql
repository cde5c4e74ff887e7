-- county-notifier withdraws a reminder whose appointment no longer stands.
--
-- appointment_reminders() (016) queues a reminder the working day before. When its send was
-- held back (the gateway down, a backoff) while the citizen cancelled or the county refused
-- the appointment, or until its time had passed, the reminder still told the citizen to
-- come ("请按时前往"). The notifier now gives such pending reminders up each pass, before it
-- reads the notices due (agent/county-notifier/queue.c, withdraw_reminders): state failed,
-- last_error "withdrawn: ...", as a superseded code is (015). To tell, it reads the
-- appointment's status, which its account could not: 016 granted it only what a notice says.
GRANT SELECT (status) ON appointments TO county_notifier;
