"""Totals for `scripts/test`: counts what each stage left in var/test-results/.

    report.py count-odoo-tests DIR      test methods in DIR's test_*.py files
    report.py junit-tests FILE          tests in a JUnit file (0 if unreadable)
    report.py junit-failures FILE       failed tests in it (0 if unreadable)
    report.py summary RESULTS_DIR       the closing lines of the test run

Each stage leaves, in RESULTS_DIR, a JUnit XML file (pytest stages) or a
`<name>.check` file holding `passed` or `failed` (lint checks), and the Odoo
stage an `odoo-not-run` file: `<count>\\t<why>` when its tests could not run.
Standard library only: it runs with whatever python3 the machine has.
"""

import ast
import pathlib
import sys
import xml.etree.ElementTree as ET


def count_odoo_tests(directory):
    """Count the `test_*` methods of the classes in DIR/test_*.py, statically."""
    count = 0
    for path in sorted(pathlib.Path(directory).glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                count += sum(
                    1
                    for item in node.body
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                    and item.name.startswith("test")
                )
    return count


def junit_totals(path):
    """(passed, failed, skipped) of one pytest JUnit XML file; zeros if unreadable.

    Counted on the test cases, not on the suite's totals, which count the
    subtests too.
    """
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return 0, 0, 0
    passed = failed = skipped = 0
    for case in root.iter("testcase"):
        outcomes = {child.tag for child in case}
        if outcomes & {"failure", "error"}:
            failed += 1
        elif "skipped" in outcomes:
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped


def summary(results_dir):
    results = pathlib.Path(results_dir)
    passed = failed = skipped = 0
    lines = []
    for path in sorted(results.glob("*.xml")):
        p, f, s = junit_totals(path)
        lines.append(f"{path.stem}: {p} passed, {f} failed, {s} skipped")
        passed, failed, skipped = passed + p, failed + f, skipped + s
    for path in sorted(results.glob("*.check")):
        outcome = path.read_text(encoding="utf-8").strip()
        lines.append(f"check {path.stem}: {outcome}")
        if outcome == "passed":
            passed += 1
        else:
            failed += 1
    not_run = results / "odoo-not-run"
    if not_run.exists():
        count, _tab, why = not_run.read_text(encoding="utf-8").strip().partition("\t")
        lines.append(f"Odoo tests not run: {count} ({why})")
    else:
        lines.append("Odoo tests not run: 0 (the Odoo suite ran)")
    lines.append(f"total: {passed} passed, {failed} failed, {skipped} skipped")
    print("\n".join(lines))
    return 1 if failed else 0


def main(argv):
    if len(argv) == 3 and argv[1] == "count-odoo-tests":
        print(count_odoo_tests(argv[2]))
        return 0
    if len(argv) == 3 and argv[1] == "junit-tests":
        print(sum(junit_totals(argv[2])))
        return 0
    if len(argv) == 3 and argv[1] == "junit-failures":
        print(junit_totals(argv[2])[1])
        return 0
    if len(argv) == 3 and argv[1] == "summary":
        return summary(argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
