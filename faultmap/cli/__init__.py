"""The ``faultmap`` command: analyze, coverage, compare and diff from the shell or CI.

Results go to stdout (the text report, or JSON with ``--json -``) and to files (``--out``
HTML, ``--json`` JSON); progress and warnings go to stderr, and ``--quiet`` silences them.
Exit status: 0 success, 1 a CI gate tripped (``--fail-on-slices``, ``--fail-on-gaps``,
``--fail-on-regression``, ``diff`` found a new slice, or ``cache verify`` a damaged shard), 2 an
error (one line on stderr, credentials redacted).

Example:
    $ faultmap analyze evals.csv --score-col score --out report.html --json report.json
    $ faultmap diff last_week.json report.json || echo "new failure slice"
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence

from faultmap._secrets import redact
from faultmap.cli._output import EXIT_ERROR, restored_process_state, setup_output
from faultmap.cli._parser import build_parser
from faultmap.exceptions import FaultmapError

__all__ = ["build_parser", "main"]


def _one_line(exc: BaseException) -> str:
    return redact(" ".join(str(exc).split())) or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``faultmap`` command and return its exit status (0 ok, 1 gate, 2 error).

    Example:
        >>> main(["diff", "old.json", "new.json"])  # doctest: +SKIP
        0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    with restored_process_state():
        setup_output(args)
        run: Callable[[argparse.Namespace], int] = args.run
        try:
            return run(args)
        except FaultmapError as exc:
            sys.stderr.write(f"faultmap: error: {_one_line(exc)}\n")
        except KeyboardInterrupt:
            sys.stderr.write("faultmap: interrupted\n")
            return 130
        except Exception as exc:
            if args.verbose:
                traceback.print_exc()
            sys.stderr.write(
                f"faultmap: error: {type(exc).__name__}: {_one_line(exc)} (run with --verbose "
                "for the traceback)\n"
            )
        return EXIT_ERROR
