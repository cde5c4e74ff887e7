"""Issue 15: the dashboard and /metrics with 300 halls and CASES synthetic cases (default
300000) loaded by INSERT ... SELECT from seq_1_to_N; prints ms and KB. Run from the tree:
E2E_PORT_BASE=29100 B=build python3 tests/bench/fleet_dashboard.py"""
import os, sys, time, re
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
from county import County
from harness import NO_LIMITS, Node
from test_staff import Client
N = int(os.environ.get("CASES", "300000"))
node = Node("dashbench", county=True, agent=False, staff=True)
node.start(NO_LIMITS)
try:
    county = County(node)
    env = node.run_env()
    t0 = time.time()
    county.sql("INSERT IGNORE INTO halls (hall_code, name, county_code, db_user, last_contact_at, backlog, agent_version) "
               "SELECT CONCAT('430121', LPAD(seq, 3, '0'), '000'), CONCAT('大厅', seq), '430121', CONCAT('b_', seq), "
               "IF(seq % 37 = 0, NOW() - INTERVAL 3 HOUR, NOW()), seq % 50, '0.9.0' FROM seq_2_to_300", timeout=600)
    county.sql("INSERT INTO cases (case_no, id, hall_code, kind, subject, body, phone, channel, submitted_at, due_at, status) "
               "SELECT CONCAT('B', seq), CONCAT('b-', seq), CONCAT('430121', LPAD(1 + seq %% 300, 3, '0'), '000'), 'consultation', "
               "CONCAT('咨询事项', seq), '内容', '13800000000', ELT(1 + seq %% 5, 'online','window','phone','letter','email'), "
               "NOW() - INTERVAL (seq %% 1800) DAY, NOW() - INTERVAL (seq %% 1800) DAY + INTERVAL 3 DAY, "
               "IF(seq %% 100 = 0, 'accepted', 'answered') FROM seq_1_to_%d" % N, timeout=3600)
    county.sql("UPDATE cases SET closed_at = submitted_at + INTERVAL (id LIKE '%%7') * 5 DAY WHERE status = 'answered' AND case_no LIKE 'B%%'", timeout=3600)
    county.sql("INSERT INTO ratings (id, case_no, hall_code, level, at) SELECT CONCAT('r', seq), CONCAT('B', seq), "
               "CONCAT('430121', LPAD(1 + seq %% 300, 3, '0'), '000'), 1 + seq %% 5, NOW() - INTERVAL (seq %% 1800) DAY "
               "FROM seq_1_to_%d WHERE seq %% 3 = 0" % N, timeout=3600)
    print("load %.1f s" % (time.time() - t0), county.scalar("SELECT COUNT(*) FROM cases"), county.scalar("SELECT COUNT(*) FROM hall_month_stats"))
    c = Client(node.staff_port)
    assert c.login(env["STAFF_USER"], env["STAFF_PASSWORD"]).status == 303
    for q in ("", "?period=month", "?period=quarter", "?period=year", "?period=12m&page=3"):
        ts = []
        for _ in range(5):
            t = time.time(); r = c.get("/dashboard" + q); ts.append((time.time() - t) * 1000)
            assert r.status == 200, r.status
        print("dashboard%s: median %.0f ms, max %.0f ms, %.1f KB" % (q, sorted(ts)[2], max(ts), len(r.text.encode()) / 1024))
    qs = {
      "stats": "SELECT hall_key, SUM(submitted) FROM hall_month_stats WHERE county_code='430121' AND month >= '2025-12-01' AND month < '2026-12-01' GROUP BY hall_key",
      "open": "SELECT COALESCE(c.handler_hall, c.handler_county), count(*), SUM(c.due_at < NOW()) FROM cases c WHERE c.handler_county = '430121' AND c.status IN ('received','delivered','accepted','transferred') GROUP BY 1",
      "followups": "SELECT COALESCE(c.handler_hall, c.handler_county), SUM(f.closed_at IS NULL) FROM rating_followups f JOIN cases c ON c.case_no = f.case_no WHERE c.handler_county = '430121' GROUP BY 1",
      "notices": "SELECT SUM(n.state = 'pending'), SUM(n.state='failed') FROM notifications n WHERE n.channel = 'sms' AND n.hall_code LIKE '430121%'",
      "appts": "SELECT h.hall_code, COUNT(a.appointment_no) FROM halls h LEFT JOIN appointments a ON a.hall_code = h.hall_code WHERE h.county_code = '430121' GROUP BY h.hall_code",
      "notif_metrics": "SELECT LEFT(hall_code, 6), channel, COUNT(*) FROM notifications WHERE state = 'pending' GROUP BY 1, 2",
    }
    for k, q in qs.items():
        t = time.time(); county.rows(q, timeout=600); print("sql %s: %.0f ms" % (k, (time.time()-t)*1000))
    print(county.scalar("SELECT COUNT(*) FROM notifications"), county.scalar("SELECT COUNT(*) FROM rating_followups"))
    t = time.time(); r = c.get("/metrics"); print("metrics %.0f ms %.1f KB" % ((time.time()-t)*1000, len(r.text)/1024))
finally:
    node.stop(); node.cleanup()
