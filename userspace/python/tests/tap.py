# SPDX-License-Identifier: LGPL-2.1-only OR MIT
"""Run the package's unittest suite and print TAP, for the qemu guest's harness.

usage: python3 tap.py PACKAGE_DIR
"""
import sys
import traceback
import unittest


class TapResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.n = 0

    def _line(self, ok, test, detail=None):
        self.n += 1
        name = "python_" + test.id().split(".")[-1]
        print("%s %d - %s" % ("ok" if ok else "not ok", self.n, name))
        if detail:
            for line in detail.rstrip().splitlines():
                print("# " + line)
        sys.stdout.flush()

    def addSuccess(self, test):
        self._line(True, test)

    def addFailure(self, test, err):
        self._line(False, test, "".join(traceback.format_exception(*err)))

    def addError(self, test, err):
        self._line(False, test, "".join(traceback.format_exception(*err)))

    def addSkip(self, test, reason):
        self._line(True, test, "SKIP " + reason)


def main():
    top = sys.argv[1]
    sys.path.insert(0, top)
    suite = unittest.defaultTestLoader.discover(top + "/tests")
    print("TAP version 13")
    print("1..%d" % suite.countTestCases())
    result = TapResult()
    suite.run(result)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
