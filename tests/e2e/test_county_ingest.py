"""SPEC 5.5, 9 (issue 15): 300 halls with backlogs reconnect after a county outage.

The halls are registered the county's own way (county-admin add-hall, an account each) and
simulated by build/county-ingest-bench (tests/bench/county_ingest.c): one thread and one
TLS connection per hall, the agent's record JSON, batches, zlib stream, hall_upload_z and
backoff (lib/core/backoff.c). The county is killed with -9 while they deliver and started
again; then every record is in the ledger exactly once, nothing is refused or in conflict,
and the reconnects spread out instead of arriving together.
"""

import os
import time
import unittest

import fleet
from county import County, wait_until
from harness import NO_LIMITS, Node

HALLS = 300
PER_HALL = 40          # 8 cases, a rating and an appointment in every ten
BACKOFF_MAX_S = 8      # the agent's [agent] backoff_max_s, small so the test stays short


class CountyIngestTest(unittest.TestCase):

    def test_outage_300_halls(self):
        node = Node("ingest", county=True, agent=False)
        self.addCleanup(node.stop)
        node.start(NO_LIMITS)
        county = County(node)
        halls = fleet.register_halls(node.var, HALLS)
        line = os.path.join(node.var, "log", "fleet-timeline.txt")
        gen = fleet.run_generator(node.var, node.county_port, halls, "ingest", PER_HALL,
                                  backoff_max_s=BACKOFF_MAX_S, timeline=line, deadline_s=150,
                                  wait=False)
        self.addCleanup(lambda: gen.poll() is None and gen.kill())
        t_start = time.monotonic()
        total = HALLS * PER_HALL
        # the outage comes while the halls are delivering: early, as a hall sends its 40
        # records in one batch and the county (its thread pool) takes 300 halls' in seconds
        wait_until(lambda: county.count("records", "hall_code LIKE '4301215%'") >= total // 20,
                   60, 0.1, "a twentieth of the records at the county")
        county.kill9()
        down_ms = (time.monotonic() - t_start) * 1000
        time.sleep(5)
        county.start()
        up_ms = (time.monotonic() - t_start) * 1000
        out, err = gen.communicate(timeout=180)
        figs = fleet.figures(out.decode())
        self.assertEqual(gen.returncode, 0, "generator: %s\n%s" % (out, err[-2000:]))
        self.assertEqual(figs["done"], HALLS, figs)
        # no batch refused by the search table's numbering (sql/county/029): InnoDB refused
        # a declared FTS_DOC_ID that another hall's rows had overtaken, with the whole batch
        fts = [ln for ln in err.decode(errors="replace").splitlines() if "FTS" in ln]
        self.assertEqual(fts, [], "%d batches refused: %s" % (len(fts), fts[:3]))

        # exactly once: every hall's ledger holds its records, once each
        per_hall = county.rows("SELECT hall_code, count(*), "
                               "SUM(type = 'case'), SUM(type = 'rating') FROM records "
                               "WHERE hall_code LIKE '4301215%' GROUP BY hall_code")
        self.assertEqual(len(per_hall), HALLS)
        for code, n, cases, ratings in per_hall:
            self.assertEqual((int(n), int(cases), int(ratings)),
                             (PER_HALL, PER_HALL * 8 // 10, PER_HALL // 10), code)
        self.assertEqual(county.count("cases", "hall_code LIKE '4301215%'"), total * 8 // 10)
        self.assertEqual(county.count("ratings", "hall_code LIKE '4301215%'"), total // 10)
        self.assertEqual(county.count("appointments", "hall_code LIKE '4301215%'"), total // 10)
        self.assertEqual(county.count("conflicts"), 0)
        self.assertEqual(county.count("refusals"), 0)
        marks = county.rows("SELECT count(*), MIN(last_seq), MAX(last_seq) FROM hall_streams "
                            "WHERE hall_code LIKE '4301215%'")[0]
        self.assertEqual(tuple(int(x) for x in marks), (HALLS, PER_HALL, PER_HALL))

        # no thundering herd: the attempts of the halls that lost the county spread over
        # the backoff window; without jitter all of them would come within one second
        attempts = fleet.timeline(line)
        failed = [a for a in attempts if not a[1]]
        self.assertGreater(len(failed), HALLS // 3, "the outage was not noticed: %r" % figs)
        peak = fleet.peak_per_second(attempts, after_ms=down_ms)
        after_up = fleet.peak_per_second(attempts, after_ms=up_ms)
        print("# %d records, %d halls, %.1f s, %s duplicates; reconnect attempts: peak %d/s "
              "during the outage, %d/s after it (of %d halls)"
              % (total, HALLS, figs["seconds"], int(figs["duplicates"]), peak, after_up, HALLS),
              flush=True)
        # the first retry of every hall falls in the agent's first window (1 s, at random),
        # against a dead server that refuses at once; what matters is the county coming
        # back: the halls then arrive spread over the backoff window, not together
        self.assertLess(after_up, HALLS // 2, "reconnects came in a herd")
        back = sorted(ms for ms, ok in attempts if ok and ms >= up_ms)
        self.assertGreater(len(back), HALLS // 2)
        self.assertGreater(back[-1] - back[0], 2000, "every hall came back at once")


    def test_yardstick_same_rows(self):
        """The plain-INSERT yardstick (mode insert, tests/bench/bench.py's county_insert_rps)
        writes what the ingest writes, in every table the ingest fills: records, cases,
        ratings, appointments, and the search tokens of case_search (the trigger
        cases_search). Half the halls deliver by hall_upload_z, the other half by the
        yardstick; a hall's rows are then the same in count and in size, whichever way
        they came, and neither run refused a batch."""
        node = Node("yardstick", county=True, agent=False)
        self.addCleanup(node.stop)
        node.start(NO_LIMITS)
        county = County(node)
        n_halls, per_hall = 40, 60
        halls = fleet.register_halls(node.var, n_halls)
        with open(halls) as f:
            lines = f.readlines()
        ingest_file, insert_file = halls + ".ingest", halls + ".insert"
        for path, part in ((ingest_file, lines[:n_halls // 2]),
                           (insert_file, lines[n_halls // 2:])):
            with open(path, "w") as f:
                f.writelines(part)
        account = fleet.insert_account(node.var)
        for path, mode in ((ingest_file, "ingest"), (insert_file, "insert")):
            rc, figs, err = fleet.run_generator(node.var, node.county_port, path, mode,
                                                per_hall, insert=account, deadline_s=150)
            self.assertEqual(rc, 0, "%s: %r\n%s" % (mode, figs, err[-2000:]))
            self.assertEqual((figs["done"], figs["records"], figs["refused"]),
                             (n_halls // 2, n_halls // 2 * per_hall, 0), (mode, figs))
        rows = county.rows(
            "SELECT h.code, "
            "(SELECT COUNT(*) FROM records r WHERE r.hall_code = h.code), "
            "(SELECT SUM(LENGTH(c.subject) + LENGTH(c.body)) FROM cases c "
            " WHERE c.hall_code = h.code), "
            "(SELECT COUNT(*) FROM cases c WHERE c.hall_code = h.code), "
            "(SELECT COUNT(*) FROM ratings t WHERE t.hall_code = h.code), "
            "(SELECT COUNT(*) FROM appointments a WHERE a.hall_code = h.code), "
            "(SELECT COUNT(*) FROM case_search s JOIN cases c ON c.case_no = s.case_no "
            " WHERE c.hall_code = h.code), "
            "(SELECT SUM(LENGTH(s.grams)) FROM case_search s JOIN cases c "
            " ON c.case_no = s.case_no WHERE c.hall_code = h.code) "
            "FROM (SELECT DISTINCT hall_code AS code FROM records "
            "      WHERE hall_code LIKE '4301215%') h ORDER BY h.code")
        self.assertEqual(len(rows), n_halls)
        first = tuple(rows[0][1:])
        self.assertEqual(tuple(int(x) for x in first[:1] + first[2:6]),
                         (per_hall, per_hall * 8 // 10, per_hall // 10, per_hall // 10,
                          per_hall * 8 // 10), rows[0])
        for row in rows:
            self.assertEqual(tuple(row[1:]), first, "hall %s: %r" % (row[0], rows))


if __name__ == "__main__":
    unittest.main()
