"""The operators' commands of SPEC 8 (issue 12) against a real node: `hall-admin check`
on the demo's own INI and on broken copies of it (each mistake named FILE:LINE, exit 0
valid, 1 errors, 2 unreadable), and `hall-agent status [--json]` as a monitor reads it:
0 healthy, 1 when a record has waited longer than [agent] status_max_age_s (the county
stopped), 2 when the store cannot be read.

One node with its own county MariaDB (conf/demo, COUNTY=1); the tests run hall-agent
themselves.
"""

import json
import os
import re
import shutil
import subprocess
import time
import unittest

from county import AGENT, Agent, County, wait_until
from harness import BUILD, NO_LIMITS, ROOT, Node

ADMIN = os.path.join(ROOT, BUILD, "hall-admin")
FINDING = re.compile(r"^(?P<file>[^:\n]+):(?:(?P<line>\d+):)? (?P<level>error|warning|note): "
                     r"(?P<msg>.*)$", re.M)


def run(argv, timeout=60):
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def check(path):
    """(exit code, stdout, [(line or 0, level, message)]) of hall-admin -c path check."""
    rc, out, err = run([ADMIN, "-c", path, "check"])
    found = []
    for m in FINDING.finditer(err):
        if m.group("file") == path:
            found.append((int(m.group("line") or 0), m.group("level"), m.group("msg")))
    return rc, out, found, err


def line_of(text, pattern):
    """The 1-based number of the last line of text that matches pattern (what counts)."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if re.match(pattern, line)]
    if not hits:
        raise AssertionError("no line matching %r" % pattern)
    return hits[-1]


class OpsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = Node("ops", county=True, agent=False)
        try:
            cls.node.start(NO_LIMITS)
        except Exception:
            cls.node.cleanup()
            raise
        cls.county = County(cls.node)
        with open(cls.node.ini_path, encoding="utf-8") as f:
            cls.ini_text = f.read()

    @classmethod
    def tearDownClass(cls):
        cls.node.cleanup()

    def setUp(self):
        self.county.start()

    def write(self, name, text, mode=0o600):
        path = os.path.join(self.node.var, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(path, mode)
        self.addCleanup(lambda: os.path.exists(path) and os.unlink(path))
        return path

    def assertFinding(self, found, line, level, part, err):
        for f in found:
            if f[0] == line and f[1] == level and part in f[2]:
                return f
        self.fail("no %s at line %d with %r in:\n%s" % (level, line, part, err))

    # ---- hall-admin check ----------------------------------------------------------------
    def test_check_demo_ini_is_valid(self):
        rc, out, found, err = check(self.node.ini_path)
        self.assertEqual(rc, 0, err)
        self.assertIn("%s: valid" % self.node.ini_path, out)
        self.assertEqual([f for f in found if f[1] == "error"], [], err)
        # the demo has no province: said as a note, not as a mistake
        self.assertTrue(any(f[1] == "note" and "[province] url" in f[2] for f in found), err)

    def test_check_names_each_mistake_and_goes_on(self):
        text = self.ini_text
        text = re.sub(r"(?m)^port = (\d+)$", "port = 70000", text)
        text = text.replace("[limits]\n", "[limits]\nsubmisions_per_min = 3\n", 1)
        text += "\n[agent]\nstatus_max_age_s = soon\n[nonsense]\nx = 1\nthis is not ini\n"
        path = self.write("broken.ini", text)
        rc, out, found, err = check(path)
        self.assertEqual(rc, 1, err)
        self.assertRegex(out, r"broken\.ini: \d+ error\(s\)")
        self.assertFinding(found, line_of(text, r"port = 70000"), "error",
                           "[county] port must be a whole number from 1 to 65535", err)
        self.assertFinding(found, line_of(text, r"submisions_per_min"), "error",
                           "unknown key [limits] submisions_per_min", err)
        self.assertFinding(found, line_of(text, r"status_max_age_s = soon"), "error",
                           "[agent] status_max_age_s must be a whole number", err)
        self.assertFinding(found, line_of(text, r"\[nonsense\]"), "error",
                           "unknown section [nonsense]", err)
        self.assertFinding(found, line_of(text, r"this is not ini"), "error", "not INI syntax",
                           err)
        # every line in the compiler's form (a finding of no one line, such as a section
        # that is not there, without the number)
        for line in err.splitlines():
            self.assertRegex(line, r"^%s:(\d+:)? (error|warning|note): " % re.escape(path))
        # the programs refuse the same file, naming the line too
        rc2, _, err2 = run([AGENT, "-c", path, "once"])
        self.assertEqual(rc2, 1)
        self.assertIn("%s:%d: error: [county] port" % (path, line_of(text, r"port = 70000")),
                      err2)

    def test_check_secrets(self):
        ini = self.node.ini()
        pw = ini["county"]["password_file"]
        # a copy of the password open to the group and others
        with open(pw) as f:
            secret = f.read()
        loose = self.write("loose.pw", secret, 0o644)
        empty = self.write("empty.pw", "", 0o600)
        text = self.ini_text + "\n[county]\npassword_file = %s\n" % loose
        rc, _, found, err = check(self.write("loose.ini", text))
        self.assertEqual(rc, 1, err)
        self.assertFinding(found, len(text.splitlines()), "error",
                           "open to its group and others (mode 0644): chmod 600", err)
        text = self.ini_text + "\n[county]\npassword_file = %s\n" % empty
        rc, _, found, err = check(self.write("empty.ini", text))
        self.assertEqual(rc, 1, err)
        self.assertFinding(found, len(text.splitlines()), "error", "is empty", err)
        missing = os.path.join(self.node.var, "nowhere.pw")
        text = self.ini_text + "\n[county]\npassword_file = %s\n" % missing
        rc, _, found, err = check(self.write("missing.ini", text))
        self.assertEqual(rc, 1, err)
        self.assertFinding(found, len(text.splitlines()), "error", "No such file", err)
        # csrf.key before hall-admin init: a note only
        text = self.ini_text + "\n[server]\nsecret_file = %s\n" % missing
        rc, out, found, err = check(self.write("noinit.ini", text))
        self.assertEqual(rc, 0, err)
        self.assertFinding(found, len(text.splitlines()), "note", "hall-admin init makes it",
                           err)

    def test_check_insecure_link(self):
        text = self.ini_text + "\n[county]\nhost = 10.43.1.20\ntls = 0\n"
        rc, _, found, err = check(self.write("clear.ini", text))
        self.assertEqual(rc, 1, err)
        self.assertFinding(found, len(text.splitlines()), "error", "tls = 0 would send", err)
        text += "allow_insecure = 1\n"
        rc, out, found, err = check(self.write("allowed.ini", text))
        self.assertEqual(rc, 0, err)
        self.assertIn("1 warning(s)", out)
        self.assertFinding(found, len(text.splitlines()) - 1, "warning", "unencrypted", err)

    def test_check_missing_folder_and_unreadable_file(self):
        text = self.ini_text + "\n[store]\nschema_dir = /nonexistent/sql\n"
        rc, _, found, err = check(self.write("nofolder.ini", text))
        self.assertEqual(rc, 1, err)
        self.assertFinding(found, len(text.splitlines()), "error", "[store] schema_dir", err)
        path = os.path.join(self.node.var, "absent.ini")
        rc, out, found, err = check(path)
        self.assertEqual(rc, 2, err)
        self.assertEqual(out, "")
        self.assertFinding(found, 0, "error", "cannot be read", err)
        # a command line it cannot take is 2 as well, with the usage
        rc, out, err = run([ADMIN, "-c", self.node.ini_path, "check", "extra"])
        self.assertEqual(rc, 2)
        self.assertIn("usage: hall-admin", err)

    # ---- hall-agent status ----------------------------------------------------------------
    def status(self, ini, *args):
        rc, out, err = run([AGENT, "-c", ini, "status"] + list(args))
        return rc, out, err

    def status_json(self, ini):
        rc, out, err = self.status(ini, "--json")
        try:
            obj = json.loads(out)
        except ValueError:
            self.fail("status --json is not JSON (rc %d):\n%s\n%s" % (rc, out, err))
        self.assertEqual(obj.get("exit"), rc)
        return rc, obj, err

    def test_status_healthy_then_backlog_ages(self):
        node = self.node
        agent = Agent(node)
        self.addCleanup(agent.cleanup)
        short = self.write("short.ini", self.ini_text + "\n[agent]\nstatus_max_age_s = 1\n")
        node.submit()
        self.assertEqual(agent.once(), 0, agent.log_tail())
        rc, obj, err = self.status_json(node.ini_path)
        self.assertEqual(rc, 0, (obj, err))
        county = obj["destinations"]["county"]
        self.assertTrue(obj["healthy"])
        self.assertEqual(obj["hall"], node.ini()["hall"]["code"])
        self.assertEqual(obj["status_max_age_s"], 900)
        self.assertEqual((county["configured"], county["backlog"], county["healthy"]),
                         (True, 0, True))
        self.assertIsNotNone(county["last_success"])
        self.assertIsNone(county["oldest_unsent"])
        self.assertEqual(county["quarantined"], 0)
        self.assertIsNone(county["insecure"])
        self.assertEqual(obj["destinations"]["province"], {"configured": False})
        self.assertIsNotNone(obj["clock"]["now"])
        rc, out, err = self.status(node.ini_path)
        self.assertEqual(rc, 0, out + err)
        self.assertTrue(out.rstrip().endswith("healthy"), out)

        # the county goes away; a record waits
        self.county.stop()
        node.submit()
        self.assertEqual(agent.once(), 1)
        time.sleep(2.2)
        rc, obj, err = self.status_json(short)
        self.assertEqual(rc, 1, (obj, err))
        county = obj["destinations"]["county"]
        self.assertFalse(obj["healthy"])
        self.assertFalse(county["healthy"])
        self.assertEqual(county["backlog"], 1)
        self.assertGreaterEqual(county["oldest_unsent_age_s"], 2)
        self.assertIn("oldest unsent record has waited", county["problem"])
        self.assertIsNotNone(county["last_error"])
        self.assertIsNotNone(county["last_error_at"])
        rc, out, err = self.status(short)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("UNHEALTHY  county: the oldest unsent record has waited", out)
        # the same store read with the default window: a record 2 s old and an error seconds
        # after a success are not yet a problem
        rc, obj, err = self.status_json(node.ini_path)
        self.assertEqual(rc, 0, (obj, err))

        # the county back: drained, healthy again even with the short window
        self.county.start()
        wait_until(lambda: agent.once() == 0, 60, 0.5, "the agent to reach the county")
        rc, obj, err = self.status_json(short)
        self.assertEqual(rc, 0, (obj, err))
        self.assertEqual(obj["destinations"]["county"]["backlog"], 0)

    def test_status_store_unreadable(self):
        store = self.node.ini()["store"]["path"]
        missing = os.path.join(self.node.var, "gone", "hall.db")
        ini = self.write("nostore.ini", self.ini_text + "\n[store]\npath = %s\n" % missing)
        rc, obj, err = self.status_json(ini)
        self.assertEqual(rc, 2)
        self.assertIn("cannot be read", obj["error"])
        self.assertFalse(os.path.exists(missing), "status made a store where there was none")
        rc, out, err = self.status(ini)
        self.assertEqual(rc, 2)
        self.assertIn("cannot be read", err)
        # a file that is not a store (as root, a mode cannot make it unreadable)
        garbage = self.write("garbage.db", "this is not SQLite\n" * 100)
        ini = self.write("garbage.ini", self.ini_text + "\n[store]\npath = %s\n" % garbage)
        rc, obj, err = self.status_json(ini)
        self.assertEqual(rc, 2, (obj, err))
        # an INI it cannot load: it cannot tell either
        ini = self.write("badini.ini", self.ini_text + "\n[agent]\nstatus_max_age_s = 0\n")
        rc, obj, err = self.status_json(ini)
        self.assertEqual(rc, 2, (obj, err))
        self.assertIn("cannot be loaded", obj["error"])
        self.assertIn("%s:%d: error: [agent] status_max_age_s" % (ini, len(self.ini_text.splitlines()) + 3), err)
        self.assertTrue(os.path.exists(store))

    def test_help_names_the_new_commands(self):
        rc, out, err = run([ADMIN, "--help"])
        self.assertEqual(rc, 0, err)
        self.assertIn("hall-admin -c CONFIG check", out)
        self.assertIn("2 the", out)
        rc, out, err = run([AGENT, "--help"])
        self.assertEqual(rc, 0, err)
        self.assertIn("status [--json]", out)
        self.assertIn("status_max_age_s", out)


if __name__ == "__main__":
    unittest.main()
