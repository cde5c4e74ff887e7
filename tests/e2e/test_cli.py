"""Every program's command line (SPEC 8, issue 12): --help answers on stdout with exit 0 and
names each command, --version says the program and its release, and a command line the
program cannot take gets the usage on stderr with exit 2. The real binaries; no node."""

import os
import re
import subprocess
import unittest

from harness import BUILD, ROOT

# program -> words its --help must name (its commands, or what it serves)
PROGRAMS = {
    "hall-read": ["-c CONFIG", "hall-read"],
    "hall-write": ["-c CONFIG", "hall-write"],
    "hall-agent": ["run", "once", "status"],
    "hall-admin": ["init", "migrate", "calendar", "requeue", "clock", "purge"],
    "county-admin": ["migrate", "add-hall", "add-reader", "add-console", "add-provincial",
                     "add-notifier", "import-calendars", "purge"],
    "province-receiver": ["run", "add-hall", "remove-hall", "purge"],
    "sms-gateway": ["run", "/v1/sms"],
    "county-notifier": ["-c NOTIFIER_INI", "run", "once"],
    "staff-console": ["run", "add-user"],
}


def run(prog, *args):
    p = subprocess.run([os.path.join(ROOT, BUILD, prog)] + list(args), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=10)
    return p.returncode, p.stdout, p.stderr


class CliTest(unittest.TestCase):
    def test_help_names_every_command(self):
        for prog, words in PROGRAMS.items():
            with self.subTest(prog=prog):
                rc, out, err = run(prog, "--help")
                self.assertEqual(rc, 0, err)
                self.assertEqual(err, "")
                self.assertTrue(out.startswith("usage: %s " % prog), out[:200])
                for w in words + ["--version"]:
                    self.assertIn(w, out)
                self.assertEqual(run(prog, "-h")[:2], (0, out))

    def test_version(self):
        versions = set()
        for prog in PROGRAMS:
            with self.subTest(prog=prog):
                rc, out, err = run(prog, "--version")
                self.assertEqual((rc, err), (0, ""))
                m = re.fullmatch(r"%s (\d+\.\d+\.\d+)\n" % re.escape(prog), out)
                self.assertIsNotNone(m, out)
                versions.add(m.group(1))
        self.assertEqual(len(versions), 1, "the programs disagree on the release: %r" % versions)

    def test_bad_command_lines_get_the_usage_and_2(self):
        for prog in PROGRAMS:
            for args in (["--no-such-option"], ["-c"], []):
                with self.subTest(prog=prog, args=args):
                    rc, out, err = run(prog, *args)
                    self.assertEqual(rc, 2, (out, err))
                    self.assertEqual(out, "")
                    self.assertIn("usage: %s" % prog, err)


if __name__ == "__main__":
    unittest.main()
