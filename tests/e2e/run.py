#!/usr/bin/env python3
"""The hall's end-to-end tests as TAP.

    python3 tests/e2e/run.py                    every tests/e2e/test_*.py
    python3 tests/e2e/run.py test_api test_limits.py ...   only these modules

One line per test method: `ok N - module.Class.test`, `not ok N - ...` followed by `# `
lines with the failure, `ok N - ... # SKIP reason`; the plan `1..N` comes last. Exits 1
when anything failed, else 0. B selects the build (`build` or `build/san`).
"""

import glob
import os
import sys
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


class TapResult(unittest.TestResult):
    def __init__(self, stream):
        super().__init__()
        self.stream = stream
        self.n = 0
        self.bad = 0
        self._started = {}
        self._reported = set()

    def _name(self, test):
        return test.id()

    def _line(self, text):
        self.stream.write(text + "\n")
        self.stream.flush()

    def _comment(self, text):
        for line in text.rstrip("\n").splitlines():
            self._line("# " + line)

    def startTest(self, test):
        super().startTest(test)
        self._started[test.id()] = time.monotonic()

    def _took(self, test):
        t0 = self._started.get(test.id())
        return time.monotonic() - t0 if t0 is not None else 0.0

    def _report(self, test, ok, directive="", detail=None):
        # a test that fails in tearDown after its body passed is reported once, as failed
        key = test.id()
        if key in self._reported:
            # a second problem of the same test (say, in tearDown): more comment lines
            if not ok and detail:
                self._comment(detail)
            return
        self._reported.add(key)
        self.n += 1
        if not ok:
            self.bad += 1
        self._line("%s %d - %s%s" % ("ok" if ok else "not ok", self.n, self._name(test),
                                     directive))
        if detail:
            self._comment(detail)
        took = self._took(test)
        if took > 10:
            self._comment("took %.1f s" % took)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._pending_ok = test

    def stopTest(self, test):
        # success is only known after tearDown has run: report it here
        if getattr(self, "_pending_ok", None) is test:
            self._pending_ok = None
            if test.id() not in self._reported:
                self._report(test, True)
        super().stopTest(test)

    def _fmt(self, err, test=None):
        # unittest's own frames left out, as in its text runner
        try:
            return self._exc_info_to_string(err, test)
        except Exception:  # noqa: BLE001
            return "".join(traceback.format_exception(*err))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._pending_ok = None
        self._report(test, False, detail=self._fmt(err, test))

    def addError(self, test, err):
        super().addError(test, err)
        self._pending_ok = None
        self._report(test, False, detail=self._fmt(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._report(test, True, directive=" # SKIP %s" % reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._report(test, True, directive=" # TODO expected failure", detail=self._fmt(err, test))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._report(test, False, detail="unexpected success")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._pending_ok = None
            self._report(test, False, detail="%s\n%s" % (subtest.id(), self._fmt(err, test)))


def module_names(args):
    if not args:
        return sorted(os.path.splitext(os.path.basename(p))[0]
                      for p in glob.glob(os.path.join(HERE, "test_*.py")))
    names = []
    for a in args:
        name = os.path.splitext(os.path.basename(a))[0]
        if not os.path.exists(os.path.join(HERE, name + ".py")):
            sys.exit("run.py: no test module %s in %s" % (name, HERE))
        names.append(name)
    return names


def main(argv):
    names = module_names(argv[1:])
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    result = TapResult(sys.stdout)
    t0 = time.monotonic()
    print("# hall e2e tests, B=%s, modules: %s" % (os.environ.get("B", "build"),
                                                   " ".join(names)), flush=True)
    for name in names:
        try:
            suite.addTests(loader.loadTestsFromName(name))
        except Exception:  # noqa: BLE001 - a module that does not import is one failure
            class _Broken(unittest.TestCase):
                def runTest(self, _tb=traceback.format_exc()):
                    self.fail("cannot load %s:\n%s" % (name, _tb))
            _Broken.__qualname__ = "load"
            _Broken.__module__ = name
            suite.addTest(_Broken())
    suite.run(result)
    print("1..%d" % result.n)
    print("# %d tests, %d failed, %d skipped, %.1f s" %
          (result.n, result.bad, len(result.skipped), time.monotonic() - t0), flush=True)
    return 1 if result.bad or not result.wasSuccessful() else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
