"""Time one ydata-profiling report of a CSV file and print the figures as JSON.

Runs inside the benchmark's own virtualenv (ydata-profiling needs pandas < 3
and numpy < 2.4, which the workspace does not use), started by bench/ingest.py:

    var/bench-venv/bin/python bench/ydata_report.py FILE --mode minimal [--rows N]

The report is computed with `ProfileReport.to_json()`, which runs every
statistic, correlation and (in the full mode) interaction of the report but
skips rendering HTML and plot images, so the reference is the report's
computation alone, not its presentation.
"""

import argparse
import json
import os
import time

os.environ.setdefault("YDATA_PROFILING_NO_ANALYTICS", "True")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv")
    parser.add_argument("--mode", choices=("minimal", "full"), required=True)
    parser.add_argument(
        "--rows", type=int, help="profile only this many rows, sampled with seed 7"
    )
    args = parser.parse_args()

    import pandas as pd
    from ydata_profiling import ProfileReport

    started = time.perf_counter()
    frame = pd.read_csv(args.csv)
    read_seconds = time.perf_counter() - started
    if args.rows is not None and args.rows < len(frame):
        frame = frame.sample(n=args.rows, random_state=7)
    started = time.perf_counter()
    report = ProfileReport(frame, minimal=args.mode == "minimal", progress_bar=False)
    report.to_json()
    report_seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "mode": args.mode,
                "rows": len(frame),
                "columns": frame.shape[1],
                "read_seconds": round(read_seconds, 3),
                "report_seconds": round(report_seconds, 3),
                "pandas": pd.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
