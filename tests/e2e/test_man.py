"""The manual pages (docs/man, issue 12): every page renders without a warning, as lintian
checks it (man --warnings through groff) and, when mandoc is installed, as `mandoc -T lint`
at its WARNING level; every program and INI file has its page; each program's page names
every command and option its --help names; and the INI pages name every key the parsers
take (lib/core/config.c, conf/hall.ini.example; county-admin's, the staff console's and the
province receiver's and the SMS gateway's own parsers, county-notifier's table of keys). No node: the pages, the sources and the built programs."""

import os
import re
import shutil
import subprocess
import unittest

from harness import BUILD, ROOT

MAN = os.path.join(ROOT, "docs", "man")
PROGRAMS = ["hall-read", "hall-write", "hall-agent", "hall-admin", "staff-console",
            "county-admin", "province-receiver", "sms-gateway", "county-notifier"]
PAGES = ["%s.8" % p for p in PROGRAMS] + ["hall.ini.5", "county.ini.5"]

# What lintian runs (checks/documentation/manual.pm): groff's warnings on stderr
LINTIAN_ENV = dict(os.environ, LC_ALL="C.UTF-8", MANROFFSEQ="", MANWIDTH="80")


def page_files():
    return sorted(f for f in os.listdir(MAN) if re.fullmatch(r"[a-z][a-z.-]*\.[1-8]", f))


def render(page, width=200):
    """The page as plain text, wide, so that no name is broken across lines."""
    env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH=str(width))
    p = subprocess.run(["man", "-E", "UTF-8", "-l", "-Tutf8", os.path.join(MAN, page)],
                       env=env, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError("man -l %s: %s" % (page, p.stderr))
    # no overstrike or escape sequences left: plain characters only
    return re.sub(r".\x08", "", p.stdout)


def roff_keys(page):
    """(section heading, subsection heading, key) for every `.TP` item whose tag is a
    bold word: the keys an INI page documents, where it documents them."""
    sh = ss = None
    out = set()
    lines = open(os.path.join(MAN, page), encoding="utf-8").read().splitlines()
    for i, line in enumerate(lines):
        m = re.match(r'\.SH\s+"?([^"]*)"?', line)
        if m:
            sh, ss = m.group(1), None
            continue
        m = re.match(r'\.SS\s+"?([^"]*)"?', line)
        if m:
            ss = m.group(1)
            continue
        if line == ".TP" and i + 1 < len(lines):
            m = re.fullmatch(r"\.B ([a-z_]+)", lines[i + 1])
            if m:
                out.add((sh, ss, m.group(1)))
    return out


def source(*path):
    return open(os.path.join(ROOT, *path), encoding="utf-8").read()


def function_body(text, name):
    """The text of the C function `name` (from its name at a line start to the next `}` at a
    line start)."""
    m = re.search(r"^%s\(.*?^\}" % re.escape(name), text, re.M | re.S)
    if m is None:
        raise AssertionError("no function %s" % name)
    return m.group(0)


class ManPagesTest(unittest.TestCase):
    def need_man(self):
        if shutil.which("man") is None:
            self.skipTest("`man` is not installed (apt-get install man-db groff-base): "
                          "the pages cannot be rendered")

    def test_every_program_and_ini_file_has_a_page(self):
        self.assertEqual(sorted(PAGES), page_files())

    def test_pages_render_without_warnings(self):
        """lintian's own check: any line on stderr is a warning it would report."""
        self.need_man()
        for page in page_files():
            with self.subTest(page=page):
                p = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z",
                                    os.path.join(MAN, page)], env=LINTIAN_ENV,
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stderr, "", "groff warns about %s" % page)
                self.assertTrue(p.stdout, "%s renders to nothing" % page)

    def test_pages_pass_mandoc_lint(self):
        if shutil.which("mandoc") is None:
            self.skipTest("mandoc is not installed (apt-get install mandoc): "
                          "`mandoc -T lint` not run")
        for page in page_files():
            with self.subTest(page=page):
                p = subprocess.run(["mandoc", "-T", "lint", "-W", "warning",
                                    os.path.join(MAN, page)],
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ""))

    def test_name_section_is_what_whatis_reads(self):
        """`name \\- description` on one line: mandb indexes it, apropos finds it, and the
        INI page's other names (staff.ini, receiver.ini) become its aliases."""
        for page in page_files():
            with self.subTest(page=page):
                text = source("docs", "man", page)
                m = re.search(r"^\.SH NAME\n(.+)\n\.SH", text, re.M)
                self.assertIsNotNone(m, "NAME is one line followed by the next section")
                names = page.rsplit(".", 1)[0]
                self.assertRegex(m.group(1), r"^%s(, [a-z.\\-]+)* \\- \S" %
                                 re.escape(names.replace("-", "\\-")))
                th = re.search(r"^\.TH (\S+) (\d) ", text, re.M)
                self.assertIsNotNone(th, "no .TH line")
                self.assertEqual((th.group(1).replace("\\-", "-"), th.group(2)),
                                 (names.upper(), page[-1]))

    def test_program_pages_name_every_command_and_option_of_help(self):
        self.need_man()
        for prog in PROGRAMS:
            exe = os.path.join(ROOT, BUILD, prog)
            if not os.access(exe, os.X_OK):
                self.skipTest("%s is not built (make all)" % exe)
            with self.subTest(prog=prog):
                out = subprocess.run([exe, "--help"], capture_output=True, text=True,
                                     timeout=10).stdout
                words = set()
                for line in out.splitlines():
                    if line.startswith(("usage:", "       %s" % prog)):
                        # commands and options; upper-case words are placeholders
                        words |= set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*|[a-z][a-z-]+)",
                                                line.split(prog, 1)[1]))
                    # the list of commands and options: "  run  ...", "  --help, --version"
                    m = re.match(r"  ((?:--?[a-z][a-z-]*)(?:, --?[a-z][a-z-]*)*|[a-z][a-z-]+)\b",
                                 line)
                    if m:
                        words |= set(m.group(1).split(", "))
                self.assertIn("--version", words)
                page = render("%s.8" % prog)
                synopsis = page.split("DESCRIPTION", 1)[0]
                for w in sorted(words):
                    where = synopsis if not w.startswith("-") or w in synopsis else page
                    self.assertTrue(re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(w), where),
                                    "%s(8) does not name %s in its %s" % (
                                        prog, w, "page" if where is page else "SYNOPSIS"))

    def test_hall_ini_page_documents_every_key(self):
        # the table of keys: {"section", "key", ...} rows, or a macro's S("section", "key", ...)
        text = source("lib", "core", "config.c")
        keys = set(re.findall(r'(?:\{|\b[A-Z]+\()"(\w+)", "(\w+)",', text))
        keys.add(("hall", "code"))
        section = None
        for line in source("conf", "hall.ini.example").splitlines():
            m = re.fullmatch(r"\[(\w+)\]", line)
            if m:
                section = m.group(1)
            m = re.match(r";?\s*([a-z_]+)\s*=\s*\S", line)
            if m and section:
                keys.add((section, m.group(1)))
        self.assertGreater(len(keys), 50)
        documented = {(ss.strip("[]"), k) for sh, ss, k in roff_keys("hall.ini.5")
                      if sh == "SECTIONS AND KEYS" and ss}
        self.assertEqual(sorted(keys - documented), [], "keys hall.ini(5) does not document")
        self.assertEqual(sorted(documented - keys), [], "hall.ini(5) documents unknown keys")

    def test_county_ini_page_documents_every_key(self):
        county = function_body(source("agent", "county-admin", "county_admin.c"),
                               "county_ini_key")
        staff = function_body(source("fcgi", "staff", "main.c"), "conf_key")
        receiver = function_body(source("fcgi", "province", "province_receiver.c"), "ini_key")
        sms = function_body(source("fcgi", "sms", "sms_gateway.c"), "ini_key")
        keys = set()
        for file_, body in (("COUNTY.INI", county), ("STAFF.INI", staff),
                            ("RECEIVER.INI", receiver), ("SMS.INI", sms)):
            section = None
            for m in re.finditer(r'strcmp\(section, "(\w+)"\)|strcmp\(key, "(\w+)"\)', body):
                if m.group(1):
                    section = m.group(1)
                elif section:
                    keys.add((file_, section, m.group(2)))
        # county-notifier's one table: S("section", "key", field) and I(..., lo, hi) rows
        notifier = source("agent", "county-notifier", "conf.c")
        table = re.search(r"^\} keys\[\] = \{$(.*?)^\};$", notifier, re.M | re.S)
        self.assertIsNotNone(table, "no keys[] table in agent/county-notifier/conf.c")
        rows = re.findall(r'[SI]\("(\w+)", "(\w+)"', table.group(1))
        self.assertEqual(len(rows), len(set(rows)), "a notifier key twice in its table")
        keys |= {("NOTIFIER.INI", s, k) for s, k in rows}
        # county-admin reads [county] keys after ruling out [retention]; receiver.ini has one
        # section, refused otherwise: the parsers' own order leaves none without a section
        self.assertIn(("COUNTY.INI", "county", "schema_dir"), keys)
        self.assertIn(("STAFF.INI", "county", "province_password_file"), keys)
        self.assertIn(("RECEIVER.INI", "receiver", "max_line"), keys)
        self.assertIn(("SMS.INI", "gateway", "token_file"), keys)
        for key in (("county", "password_file"), ("notifier", "give_up_hours"),
                    ("sms", "token_file"), ("email", "starttls")):
            self.assertIn(("NOTIFIER.INI",) + key, keys)
        documented = {(sh, ss.strip("[]"), k) for sh, ss, k in roff_keys("county.ini.5")
                      if ss}
        self.assertEqual(sorted(keys - documented), [], "keys county.ini(5) does not document")
        self.assertEqual(sorted(documented - keys), [], "county.ini(5) documents unknown keys")


if __name__ == "__main__":
    unittest.main()
