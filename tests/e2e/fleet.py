"""Many halls at one county (SPEC 5.5, 9): their accounts registered the county's own way
(county-admin add-hall), and build/county-ingest-bench (tests/bench/county_ingest.c) run
as all of them at once. Shared by tests/e2e/test_county_ingest.py and tests/bench/bench.py,
which start their counties differently: everything here takes the county's VAR folder and
its TCP port.

    halls = register_halls(var, 300)        the halls file the generator reads
    user, pwfile = insert_account(var)      the plain-INSERT yardstick's account
    out = run_generator(var, port, halls, "ingest", n=100, ...)   its key=value figures
    peak_per_second(timeline, after_ms)     the most connection attempts in one second

Python 3 standard library only.
"""

import concurrent.futures
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("B", "build")
GENERATOR = os.path.join(ROOT, BUILD, "county-ingest-bench")
COUNTY_ADMIN = os.path.join(ROOT, BUILD, "county-admin")
FIRST_HALL = 430121500000      # the demo county's code (430121), halls 500000 and up


def hall_codes(n):
    return ["%012d" % (FIRST_HALL + i) for i in range(n)]


def _root_sql(var, sql):
    """Runs sql as the county's root over its socket (as conf/demo sets it up)."""
    with open(os.path.join(var, "county", "secrets", "root.pw")) as f:
        pw = f.readline().strip()
    cnf = os.path.join(var, "county", "client-fleet-root.cnf")
    fd = os.open(cnf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("[client]\nuser=root\npassword=%s\nsocket=%s\n"
                % (pw, os.path.join(var, "run", "county.sock")))
    p = subprocess.run(["mariadb", "--defaults-extra-file=" + cnf, "-N", "-B", "county"],
                       input=sql.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=120)
    if p.returncode != 0:
        raise AssertionError("mariadb: %s" % p.stderr.decode(errors="replace"))
    return p.stdout.decode()


def _password_file(var, name):
    path = os.path.join(var, "county", "secrets", name)
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(os.urandom(12).hex() + "\n")
    return path


def register_halls(var, n, workers=4):
    """n halls with their accounts, by county-admin add-hall (each its own password file);
    returns the path of the halls file ("CODE PASSWORD_FILE" lines)."""
    ini = os.path.join(var, "county", "county.ini")

    def add(code):
        pw = _password_file(var, "hall-%s.pw" % code)
        p = subprocess.run([COUNTY_ADMIN, "-c", ini, "add-hall", code, "模拟大厅 " + code[6:],
                            pw], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        if p.returncode != 0:
            raise AssertionError("county-admin add-hall %s: %s"
                                 % (code, p.stdout.decode(errors="replace")))
        return code, pw

    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        rows = list(ex.map(add, hall_codes(n)))
    path = os.path.join(var, "county", "fleet-halls.txt")
    with open(path, "w") as f:
        f.writelines("%s %s\n" % r for r in rows)
    return path


def insert_account(var):
    """An account that may only INSERT into the tables hall_upload writes (the yardstick),
    over TLS like the halls'."""
    pw = _password_file(var, "bench-insert.pw")
    with open(pw) as f:
        secret = f.readline().strip()
    grants = "".join("GRANT INSERT ON county.%s TO 'bench_insert'@'%%'; " % t
                     for t in ("records", "cases", "ratings", "appointments"))
    _root_sql(var, "CREATE USER IF NOT EXISTS 'bench_insert'@'%%' IDENTIFIED BY '%s' "
                   "REQUIRE SSL; %s" % (secret, grants))
    return "bench_insert", pw


def run_generator(var, port, halls, mode, n, offset=0, batch=4000, backoff_max_s=300,
                  timeline=None, deadline_s=600, insert=None, wait=True):
    """Runs county-ingest-bench; with wait, (exit status, figures dict, stderr text), else
    the Popen (stdout and stderr piped)."""
    args = [GENERATOR, "-H", "127.0.0.1", "-P", str(port), "-A",
            os.path.join(var, "tls", "ca.pem"), "-f", halls, "-n", str(n), "-o", str(offset),
            "-b", str(batch), "-m", str(backoff_max_s), "-T", str(deadline_s)]
    if timeline:
        args += ["-t", timeline]
    if insert:
        args += ["-u", insert[0], "-p", insert[1]]
    p = subprocess.Popen(args + [mode], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    if not wait:
        return p
    out, err = p.communicate(timeout=deadline_s + 60)
    return p.returncode, figures(out.decode()), err.decode(errors="replace")


def figures(text):
    """The generator's key=value line as a dict (numbers as float)."""
    d = {}
    for word in text.split():
        k, _, v = word.partition("=")
        try:
            d[k] = float(v)
        except ValueError:
            d[k] = v
    return d


def timeline(path):
    """[(ms, ok)] of the connection attempts the generator wrote."""
    out = []
    with open(path) as f:
        for line in f:
            ms, what = line.split()
            out.append((int(ms), what == "ok"))
    return out


def peak_per_second(attempts, after_ms=0):
    """The most attempts in any one-second window from after_ms on."""
    ts = sorted(ms for ms, _ in attempts if ms >= after_ms)
    best, j = 0, 0
    for i, t in enumerate(ts):
        while ts[j] < t - 999:
            j += 1
        best = max(best, i - j + 1)
    return best
