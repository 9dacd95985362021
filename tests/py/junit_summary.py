"""Parse a JUnit XML file with junitparser and print what it holds.

Usage: junit_summary.py FILE

Prints one JSON object: `tests` and `failures` counted by junitparser, and
`cases`, each test case's `name` and whether it `failed` (with its message).
A file junitparser cannot read makes it exit non-zero.
"""

import json
import sys

from junitparser import Failure, JUnitXml


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    xml = JUnitXml.fromfile(sys.argv[1])
    cases, tests, failures = [], 0, 0
    for suite in xml:
        tests += suite.tests
        failures += suite.failures
        for case in suite:
            failed = [r for r in case.result if isinstance(r, Failure)]
            entry = {"name": case.name, "failed": bool(failed)}
            if failed:
                entry["message"] = failed[0].message
            cases.append(entry)
    print(json.dumps({"tests": tests, "failures": failures, "cases": cases}))


if __name__ == "__main__":
    main()
