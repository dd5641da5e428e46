"""Where the command's output goes: progress on stderr, the result on stdout and in files,
and the exit status of the CI gates."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
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


@contextlib.contextmanager
def restored_process_state() -> Iterator[None]:
    """Undo what :func:`setup_output` changes (progress variables, logging, warning filters)
    when the command returns, so :func:`faultmap.cli.main` called inside another program
    (a notebook, a test) leaves that program as it was."""
    saved_env = {k: os.environ.get(k) for k in ("TQDM_DISABLE", "HF_HUB_DISABLE_PROGRESS_BARS")}
    saved_disable = logging.root.manager.disable
    saved_logger = (list(logger.handlers), logger.level, logger.propagate)
    saved_root = (list(logging.root.handlers), logging.root.level)
    captured = warnings.showwarning is getattr(logging, "_showwarning", None)
    with warnings.catch_warnings():
        try:
            yield
        finally:
            for key, value in saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            logging.disable(saved_disable)
            logger.handlers[:] = saved_logger[0]
            logger.setLevel(saved_logger[1])
            logger.propagate = saved_logger[2]
            logging.root.handlers[:] = saved_root[0]
            logging.root.setLevel(saved_root[1])
            if not captured:
                logging.captureWarnings(False)


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


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file, however spelled (``./``, ``../``, symbolic or hard
    links)."""
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output(path: str | None, option: str) -> None:
    """Fail before any work when an output file cannot be written: its folder is missing, or
    the path is a folder."""
    if path is None or path == "-":
        return
    target = Path(path)
    if target.is_dir():
        raise DataError(f"{option}: '{path}' is a folder; give the path of a file to write.")
    folder = target.resolve().parent
    if not folder.is_dir():
        raise DataError(f"{option}: the folder '{folder}' does not exist; create it first.")


def check_outputs(
    args: argparse.Namespace,
    report_type: type,
    inputs: Sequence[tuple[str, str | None]] = (),
) -> None:
    """Before any work: :func:`check_output` for ``--out`` and ``--json``, ``--out`` only for a
    result with an HTML view, no two outputs to one file, and no output over one of the
    command's ``inputs`` (option, path). Replacing an earlier result is normal."""
    outputs = [("--out", getattr(args, "out", None)), ("--json", args.json)]
    outputs = [(option, path) for option, path in outputs if path and path != "-"]
    for option, path in outputs:
        check_output(path, option)
    if getattr(args, "out", None) and not hasattr(report_type, "to_html"):
        raise ConfigurationError(
            f"--out needs {report_type.__name__}.to_html(), which this faultmap version does "
            "not have; write JSON with --json instead."
        )
    if len(outputs) == 2 and _same_file(Path(outputs[0][1]), Path(outputs[1][1])):
        raise ConfigurationError(
            f"--out and --json both name '{outputs[0][1]}'; one would overwrite the other. "
            "Give each its own file."
        )
    for option, path in outputs:
        for source, given in inputs:
            if given and given != "-" and _same_file(Path(path), Path(given)):
                raise ConfigurationError(
                    f"{option} '{path}' is the input {source} '{given}'; writing the result "
                    "there would destroy the input. Choose another output file."
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
