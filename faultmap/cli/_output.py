"""Where the command's output goes: progress on stderr, the result on stdout and in files,
and the exit status of the CI gates."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from faultmap.exceptions import ConfigurationError, DataError

__all__ = [
    "EXIT_ERROR",
    "EXIT_GATE",
    "EXIT_OK",
    "check_output",
    "check_outputs",
    "finish",
    "logger",
    "setup_output",
]

logger = logging.getLogger("faultmap")

EXIT_OK, EXIT_GATE, EXIT_ERROR = 0, 1, 2


class _Prefixed(logging.Formatter):
    """``faultmap: message``, without doubling a prefix the message already has."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text if text.startswith("faultmap") else f"faultmap: {text}"


def setup_output(args: argparse.Namespace) -> None:
    """Progress on stderr (or nothing with --quiet); the CLI owns its process's logging."""
    if args.quiet:
        logging.disable(logging.CRITICAL)
        warnings.simplefilter("ignore")
        for variable in ("TQDM_DISABLE", "HF_HUB_DISABLE_PROGRESS_BARS"):
            os.environ.setdefault(variable, "1")
        return
    level = logging.DEBUG if args.verbose else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Prefixed("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    logging.captureWarnings(True)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(levelname)s: %(message)s")


def check_output(path: str | None, option: str) -> None:
    """Fail before any work when an output file cannot be written."""
    if path is None or path == "-":
        return
    folder = Path(path).resolve().parent
    if not folder.is_dir():
        raise DataError(f"{option}: the folder '{folder}' does not exist; create it first.")


def check_outputs(args: argparse.Namespace, report_type: type) -> None:
    """:func:`check_output` for ``--out`` and ``--json``, and ``--out`` only for a result
    with an HTML view."""
    check_output(getattr(args, "out", None), "--out")
    check_output(args.json, "--json")
    if getattr(args, "out", None) and not hasattr(report_type, "to_html"):
        raise ConfigurationError(
            f"--out needs {report_type.__name__}.to_html(), which this faultmap version does "
            "not have; write JSON with --json instead."
        )


def _emit(args: argparse.Namespace, result: Any) -> None:
    """The result: text on stdout (or JSON with --json -), JSON / HTML files."""
    if args.json == "-":
        sys.stdout.write(result.to_json() + "\n")
    else:
        sys.stdout.write(str(result) + "\n")
        if args.json:
            result.to_json(args.json)
            logger.info("wrote %s", args.json)
    out = getattr(args, "out", None)
    if out:
        result.to_html(out)
        logger.info("wrote %s", out)


def finish(args: argparse.Namespace, result: Any, tripped: bool, message: str) -> int:
    """Emit the result; exit status 1 with ``message`` on stderr when a gate ``tripped``."""
    _emit(args, result)
    if tripped:
        logger.info("%s", message)
        return EXIT_GATE
    return EXIT_OK
