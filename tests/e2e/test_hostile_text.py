"""Issue 11 (Trust), hostile text: what a server says reaches the hall's logs, its store and
an operator's terminal without its control bytes (lib/core/text.c, text_clean).

A county and a province platform each refuse a record with a reason full of control bytes
(an ANSI colour escape, CR LF with a forged log line after it, BEL, an OSC window title, a
C1 CSI, and for the province a Content-Type with a raw C1 byte that is not UTF-8). After a
pass of hall-agent the quarantine rows, `hall-agent status` and the agent's log hold none
of those bytes, and still hold the readable words.

Each test first shows that the bytes do reach a client as they were written, so it cannot
pass because a server or a library happened to clean them first.
"""

import gzip
import http.server
import json
import os
import re
import subprocess
import threading
import unittest

from county import Agent, County, hall_rows, submit_many
from harness import NO_LIMITS, Node

# what must never come through: C0 and C1 controls, DEL, the bidirectional overrides
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")

# The county refuses in two ways, and its text reaches the agent by both:
#   - a SIGNAL's MESSAGE_TEXT (at most 128 characters), as a MariaDB error. The server
#     itself writes most control characters of an error message as text ("\001B" for ESC),
#     but not CR and LF: a forged log line is what comes through this way;
#   - the reason of a record's result row (hall_upload's SELECT), a column like any
#     other, which carries every byte as it is: ESC, BEL, an OSC title, a C1 CSI.
# Every dangerous piece is made with CHAR(), so the SQL text itself stays printable.
SIGNAL_WORDS = ("县级拒收", "伪造一行", "end of signal")
SIGNAL_SQL = (
    "CONCAT(CHAR(27), '[31m县级拒收', CHAR(13), CHAR(10), "
    "'hall-agent[1] info: 伪造一行', CHAR(7), CHAR(13), CHAR(9), 'end of signal')")
TRIGGER = """
DELIMITER //
CREATE TRIGGER hostile_refusal BEFORE INSERT ON cases FOR EACH ROW
BEGIN
	DECLARE msg VARCHAR(128) CHARACTER SET utf8mb4 DEFAULT %s;
	IF NEW.subject LIKE '敌意%%' THEN
		-- 1406 (data too long): a refusal of the record's data, as the agent reads it
		SIGNAL SQLSTATE '22001' SET MYSQL_ERRNO = 1406, MESSAGE_TEXT = msg;
	END IF;
END//
DELIMITER ;
""" % SIGNAL_SQL
SIGNAL_PROBE = """
DELIMITER //
BEGIN NOT ATOMIC
	DECLARE msg VARCHAR(128) CHARACTER SET utf8mb4 DEFAULT %s;
	SIGNAL SQLSTATE '22001' SET MYSQL_ERRNO = 1406, MESSAGE_TEXT = msg;
END//
DELIMITER ;
""" % SIGNAL_SQL
REASON_WORDS = ("另一个乡镇", "伪造一行", "end of reason")
REASON_SQL = (
    "CONCAT(CHAR(27), '[31m另一个乡镇的记录', CHAR(27), '[0m', CHAR(13), CHAR(10), "
    "'hall-agent[1] info: 伪造一行', CHAR(7), ' ', CHAR(27), ']0;title', CHAR(7), "
    "CHAR(0xC29B USING utf8mb4), '2J', CHAR(0xE280AE USING utf8mb4), 'end of reason')")
OTHER_HALL = "430121002000"

# The province's refusal reason, and the Content-Type of a portal-like answer
PROVINCE_WORDS = ("省级拒收", "伪造一行", "理由结束")
PROVINCE_REASON = ("\x1b[31m省级拒收\x1b[0m\r\nhall-agent[1] info: 伪造一行\x07 \x1b]0;title\x07"
                   "\u009b2J\u202e理由结束")
PORTAL_TYPE = "text/html\x1b[5m\x07; charset=\x9bX"	# \x9b goes out as one raw byte


def raw(path):
    with open(path, "rb") as f:
        return f.read()


class HostileTextCase(unittest.TestCase):
    def node_up(self, name, county, extra=""):
        node = Node("hostile-" + name, county=county, agent=False)
        self.addCleanup(self._finish, node)
        node.start(NO_LIMITS + extra)
        return node

    def _finish(self, node):
        try:
            node.stop()
        finally:
            node.cleanup()

    def agent(self, node):
        a = Agent(node)
        self.addCleanup(a.cleanup)
        return a

    def status_bytes(self, agent):
        p = subprocess.run(agent.argv("status"), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        return p.stdout

    def assertClean(self, data, what):
        """Valid UTF-8 (for bytes) with no control character but the line ends of bytes."""
        if isinstance(data, bytes):
            try:
                data = data.decode("utf-8").replace("\n", "")
            except UnicodeDecodeError as e:
                self.fail("%s is not UTF-8: %s" % (what, e))
        m = CONTROL.search(data)
        if m:
            self.fail("%s holds %r: %r" % (what, m.group(0), data[max(0, m.start() - 80):][:200]))

    def assertOneLine(self, text, rid, words, what):
        """The line that names the record holds all the words: nothing was split off."""
        lines = [line for line in text.splitlines() if rid in line]
        self.assertTrue(lines, "%s does not name %s:\n%s" % (what, rid, text[-2000:]))
        self.assertTrue(any(all(w in line for w in words) for line in lines),
                        "%s: no line with %s and all of %r:\n%s" % (what, rid, words,
                                                                   "\n".join(lines)))
        for line in text.splitlines():
            self.assertFalse(line.startswith("hall-agent[1]"), "%s: a forged line: %r"
                             % (what, line))


class CountyHostileTest(HostileTextCase):
    def hostile_hall_upload(self, county):
        """hall_upload as the county has it, but with a hostile reason for a record of
        another hall (CREATE OR REPLACE keeps the procedure's grants)."""
        body = county.rows("SHOW CREATE PROCEDURE hall_upload")[0][2]
        self.assertEqual(body.count("'a record of another hall'"), 1, body[:300])
        body = body.replace("'a record of another hall'", REASON_SQL)
        body = re.sub(r"^CREATE ", "CREATE OR REPLACE ", body)
        county.sql("DELIMITER $$$\n%s$$$\nDELIMITER ;\n" % body)

    def test_county_refusals_with_control_bytes(self):
        node = self.node_up("county", county=True)
        county = County(node)
        # the county really sends these bytes, as a client reads them
        ok, _out, err = county.try_sql(SIGNAL_PROBE)
        self.assertFalse(ok)
        self.assertIn("县级拒收\r\nhall-agent[1] info: 伪造一行", err)
        self.assertIn("\x1b[31m另一个乡镇", county.sql("SELECT %s" % REASON_SQL))
        county.sql(TRIGGER)
        self.hostile_hall_upload(county)
        agent = self.agent(node)
        good = submit_many(node, 2, "正常")
        by_signal, = submit_many(node, 1, "敌意")
        by_reason, = submit_many(node, 1, "另一个乡镇")
        after = submit_many(node, 2, "正常之后")
        # by_reason's payload says it is another hall's record: the county refuses it
        con = node.db()
        with con:
            con.execute("UPDATE outbox SET payload = json_set(payload, '$.hall_code', ?) "
                        "WHERE id = ?", (OTHER_HALL, by_reason["id"]))
        con.close()
        self.assertEqual(agent.once(), 0, agent.log_tail())

        # the others went on; the refused ones are set aside with the county's words, cleaned
        got = {r[0] for r in county.rows("SELECT id FROM cases")}
        self.assertEqual(got, {r["id"] for r in good + after})
        q = {r[0]: r[1:] for r in
             hall_rows(node, "SELECT id, dest, result, reason FROM quarantine")}
        self.assertEqual(set(q), {by_signal["id"], by_reason["id"]}, q)
        for rid, words in ((by_signal["id"], SIGNAL_WORDS), (by_reason["id"], REASON_WORDS)):
            self.assertEqual(q[rid][:2], ("county", "rejected"))
            self.assertClean(q[rid][2], "the quarantine reason of %s" % rid)
            for w in words:
                self.assertIn(w, q[rid][2])
        self.assertIn("[31m", q[by_reason["id"]][2])
        # what the county was told back (hall_refusal) is the cleaned text too
        told = county.rows("SELECT record_id, reason FROM refusals")
        self.assertEqual({r[0] for r in told}, set(q), told)
        for rid, reason in told:
            self.assertClean(reason, "the county's refusals row of %s" % rid)

        status = self.status_bytes(agent)
        self.assertClean(status, "hall-agent status")
        log = raw(agent.log_path)
        self.assertClean(log, "the agent's log")
        for rid, words in ((by_signal["id"], SIGNAL_WORDS), (by_reason["id"], REASON_WORDS)):
            self.assertOneLine(status.decode("utf-8"), rid, words, "hall-agent status")
            self.assertOneLine(log.decode("utf-8"), rid, words + ("quarantined",),
                               "the agent's log")


class ProvinceStub(http.server.BaseHTTPRequestHandler):
    """POST /v1/records as SPEC 5.3 says, but for a mode: "portal" answers 200 with a
    Content-Type full of control bytes; "reject" refuses the records whose subject starts
    with 敌意 with PROVINCE_REASON and accepts the others."""

    mode = "portal"
    seen = []

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != "/v1/records":
            self.send_error(404)
            return
        records = [json.loads(line) for line in gzip.decompress(body).decode().splitlines()
                   if line]
        ProvinceStub.seen.extend(r["id"] for r in records)
        if ProvinceStub.mode == "portal":
            page = b"<html>portal</html>"
            self.send_response(200)
            self.send_header("Content-Type", PORTAL_TYPE)
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        results = [{"id": r["id"], "result": "accepted"} if not
                   str(r.get("subject", "")).startswith("敌意") else
                   {"id": r["id"], "result": "rejected", "reason": PROVINCE_REASON}
                   for r in records]
        doc = json.dumps({"results": results}).encode()	# \u001b etc.: JSON escapes
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(doc)))
        self.end_headers()
        self.wfile.write(doc)


class ProvinceHostileTest(HostileTextCase):
    def test_province_content_type_and_reason_with_control_bytes(self):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ProvinceStub)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        ProvinceStub.mode, ProvinceStub.seen = "portal", []
        node = Node("hostile-province", county=False, agent=False)
        token = os.path.join(node.var, "province-test.token")
        with open(token, "w") as f:
            f.write("test-token\n")
        os.chmod(token, 0o600)
        self.addCleanup(self._finish, node)
        node.start(NO_LIMITS + "\n[province]\nurl = http://127.0.0.1:%d\ntoken_file = %s\n"
                   "[agent]\nbackoff_max_s = 1\n" % (server.server_address[1], token))
        agent = self.agent(node)
        good = submit_many(node, 2, "正常")
        bad, = submit_many(node, 1, "敌意")

        # a portal's answer: a link error that quotes its Content-Type, cleaned
        self.assertNotEqual(agent.once(), 0)
        self.assertTrue(ProvinceStub.seen, "the agent never reached the stub")
        status = self.status_bytes(agent)
        self.assertClean(status, "hall-agent status after the portal")
        self.assertRegex(status.decode("utf-8"),
                         r"(?m)^\s*last error .*not the platform's JSON \(text/html\[5m; "
                         r"charset=\?X\)")
        last = hall_rows(node, "SELECT last_error FROM sync_dest WHERE dest = 'province'")
        self.assertClean(last[0][0], "sync_dest.last_error")

        # the platform refuses one record with a reason full of control bytes
        ProvinceStub.mode = "reject"
        self.assertEqual(agent.once(), 0, agent.log_tail())
        q = hall_rows(node, "SELECT id, dest, result, reason FROM quarantine")
        self.assertEqual([r[:3] for r in q], [(bad["id"], "province", "rejected")], q)
        self.assertClean(q[0][3], "the quarantine reason")
        for w in PROVINCE_WORDS:
            self.assertIn(w, q[0][3])
        status = self.status_bytes(agent)
        self.assertClean(status, "hall-agent status")
        self.assertOneLine(status.decode("utf-8"), bad["id"], PROVINCE_WORDS, "hall-agent status")
        log = raw(agent.log_path)
        self.assertClean(log, "the agent's log")
        self.assertOneLine(log.decode("utf-8"), bad["id"], PROVINCE_WORDS + ("quarantined",),
                           "the agent's log")
        self.assertEqual(len(good), 2)


if __name__ == "__main__":
    unittest.main()
