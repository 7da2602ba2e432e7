"""The final table of `scripts/bench`: each goal, the figure measured, PASS or
MISS, with the date and the machine (read from var/bench/results.jsonl, which
the benchmarks of this run appended to)."""

import json

from .harness import RESULTS, machine, print_table


def main():
    if not RESULTS.exists():
        print("No benchmark result recorded.")
        return 1
    results = [json.loads(line) for line in RESULTS.read_text().splitlines() if line]
    rows = [
        (
            result["benchmark"],
            result["goal"],
            result["measured"],
            {True: "PASS", False: "MISS", None: "-"}[result["passed"]],
        )
        for result in results
    ]
    info = machine()
    print_table(
        f"Summary ({info['date']}; {info['cpus']} CPUs, {info['cpu']}, "
        f"{info['memory']} RAM)",
        ("benchmark", "goal", "measured", "result"),
        rows,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
