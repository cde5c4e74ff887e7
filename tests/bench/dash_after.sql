-- halls
SELECT hall_code, name, UNIX_TIMESTAMP(last_contact_at), backlog, agent_version, quarantined, province_backlog, province_quarantined, downlink_pending, downlink_lag_s, clock_offset_ms FROM halls WHERE county_code = ?county ORDER BY hall_code
-- stats
SELECT hall_key, SUM(submitted), SUM(closed), SUM(on_time), SUM(ratings), SUM(satisfied) FROM hall_month_stats WHERE county_code = ?county AND month >= ?from AND month < ?to GROUP BY hall_key
-- trend
SELECT DATE_FORMAT(month, '%Y-%m'), SUM(submitted), SUM(closed), SUM(on_time), SUM(ratings), SUM(satisfied) FROM hall_month_stats WHERE county_code = ?county AND month >= '2024-12-01' AND month < ?to GROUP BY month
-- open
SELECT COALESCE(c.handler_hall, c.handler_county), count(*), SUM(c.due_at < NOW()), SUM(c.due_at >= NOW() AND DATE(c.due_at) = CURDATE()), SUM(c.due_at < NOW() AND c.submitted_at >= ?from AND c.submitted_at < ?to) FROM cases c FORCE INDEX (cases_dash_open) WHERE c.handler_county = ?county AND c.closed = 0 GROUP BY c.handler_hall
-- followups_open
SELECT f.stat_hall, count(*), SUM(f.due_at < NOW()) FROM rating_followups f FORCE INDEX (rating_followups_dash) WHERE f.stat_county = ?county AND f.closed_at IS NULL GROUP BY f.stat_hall
-- followups_closed
SELECT f.stat_hall, count(*) FROM rating_followups f FORCE INDEX (rating_followups_dash) WHERE f.stat_county = ?county AND f.closed_at >= ?from AND f.closed_at < ?to GROUP BY f.stat_hall
-- notice_error(sms)
SELECT n.last_error, TIMESTAMPDIFF(SECOND, n.last_error_at, NOW(6)) FROM notifications n WHERE n.channel = 'sms' AND n.last_error_at IS NOT NULL AND n.last_error IS NOT NULL AND n.hall_code LIKE CONCAT(?county, '%') ORDER BY n.last_error_at DESC LIMIT 1
-- channels
SELECT SUM(ch_online), SUM(ch_window), SUM(ch_phone), SUM(ch_letter), SUM(ch_email) FROM hall_month_stats WHERE county_code = ?county
-- metrics_notices
SELECT count(*) FROM (SELECT 1 FROM notifications n FORCE INDEX (notifications_oldest) WHERE n.state = 'pending' AND n.channel = 'sms' AND n.hall_code LIKE CONCAT(?county, '%') LIMIT 10000) x
-- notices(sms)
SELECT (SELECT count(*) FROM (SELECT 1 FROM notifications n FORCE INDEX (notifications_oldest) WHERE n.state = 'pending' AND n.channel = 'sms' AND n.hall_code LIKE CONCAT(?county, '%') LIMIT 10000) x), (SELECT TIMESTAMPDIFF(SECOND, n.created_at, NOW(6)) FROM notifications n FORCE INDEX (notifications_oldest) WHERE n.state = 'pending' AND n.channel = 'sms' AND n.hall_code LIKE CONCAT(?county, '%') ORDER BY n.created_at LIMIT 1), (SELECT count(*) FROM (SELECT 1 FROM notifications n FORCE INDEX (notifications_sent) WHERE n.state = 'sent' AND n.channel = 'sms' AND n.sent_at >= NOW() - INTERVAL 1 DAY AND n.hall_code LIKE CONCAT(?county, '%') LIMIT 10000) x), (SELECT count(*) FROM (SELECT 1 FROM notifications n FORCE INDEX (notifications_oldest) WHERE n.state = 'failed' AND n.channel = 'sms' AND n.hall_code LIKE CONCAT(?county, '%') LIMIT 10000) x)
-- appt_totals
SELECT NULL, NULL, COALESCE(SUM(s.total), 0) AS booked, COALESCE(SUM(IF(s.date >= CURDATE(), s.booked + s.confirmed, 0)), 0) AS ahead, COALESCE(SUM(s.attended), 0) AS attended, COALESCE(SUM(s.no_show), 0) AS no_show, COALESCE(SUM(s.refused), 0) AS refused FROM appt_day_stats s WHERE s.county_code = ?county AND s.date >= CURDATE() - INTERVAL 30 DAY
-- appt_halls
SELECT s.hall_code, h.name, COALESCE(SUM(s.total), 0) AS booked, COALESCE(SUM(IF(s.date >= CURDATE(), s.booked + s.confirmed, 0)), 0) AS ahead, COALESCE(SUM(s.attended), 0) AS attended, COALESCE(SUM(s.no_show), 0) AS no_show, COALESCE(SUM(s.refused), 0) AS refused FROM appt_day_stats s LEFT JOIN halls h ON h.hall_code = s.hall_code WHERE s.county_code = ?county AND s.date >= CURDATE() - INTERVAL 30 DAY GROUP BY s.hall_code, h.name HAVING SUM(s.no_show) + SUM(s.refused) > 0 ORDER BY SUM(s.no_show) + SUM(s.refused) DESC, s.hall_code LIMIT 10
