"""``faultmap cache verify|clear``: check or empty the embedding cache
(:mod:`faultmap.embedding.cache`) in ``--cache-dir`` or ``$FAULTMAP_CACHE_DIR``."""

from __future__ import annotations

import argparse
import sys

from faultmap.cli._output import EXIT_GATE, EXIT_OK

__all__ = ["add_cache_parser"]


def _folder(args: argparse.Namespace) -> str | None:
    return args.cache_dir


def verify(args: argparse.Namespace) -> int:
    """Check every shard; exit 1 when one is damaged (also with ``--repair``, which moves
    the damaged ones aside as the next analysis would)."""
    from faultmap.embedding.cache import verify_cache

    check = verify_cache(_folder(args), repair=args.repair)
    out = sys.stdout
    good = [s for s in check.shards if s.problem is None]
    legacy = sum(1 for s in good if not s.checksummed)
    out.write(f"embedding cache {check.cache_dir}\n")
    out.write(
        f"{len(good)} good shard(s) ({sum(s.rows for s in good)} vectors"
        + (f"; {legacy} written before checksums" if legacy else "")
        + f"), {len(check.damaged)} damaged\n"
    )
    for shard in check.damaged:
        action = "moved aside" if args.repair else "damaged"
        out.write(f"  {action}: {shard.path} ({shard.problem})\n")
    if check.moved_aside and not args.repair:
        out.write(f"{len(check.moved_aside)} shard(s) moved aside earlier (damaged-shard-*)\n")
    if check.leftovers:
        out.write(f"{len(check.leftovers)} temporary file(s) left by interrupted writers\n")
    if check.damaged and not args.repair:
        out.write(
            "The next analysis moves damaged shards aside and embeds their texts again; "
            "`faultmap cache verify --repair` does it now, `faultmap cache clear` empties "
            "the cache.\n"
        )
    return EXIT_GATE if check.damaged else EXIT_OK


def clear(args: argparse.Namespace) -> int:
    """Delete the cache's own files (shards, shards moved aside, temporary files) and,
    unless ``--keep-models``, the backends' exported models."""
    from faultmap.embedding.cache import clear_cache, default_cache_dir

    folder = _folder(args) or default_cache_dir()
    removed = clear_cache(folder, models=not args.keep_models)
    sys.stdout.write(f"embedding cache {folder}: removed {removed} file(s)\n")
    return EXIT_OK


def add_cache_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``faultmap cache verify|clear`` on the command's subparsers."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", help="nothing on stderr")
    common.add_argument("-v", "--verbose", action="store_true", help="tracebacks on stderr")
    p = sub.add_parser(
        "cache",
        help="check (verify) or empty (clear) the embedding cache",
        description="The embedding cache in --cache-dir, else $FAULTMAP_CACHE_DIR, else the "
        "per-user cache folder. `verify` checks every shard (format, width, finite values, "
        "checksum) and exits 1 when one is damaged; `--repair` moves damaged shards aside, "
        "as the next analysis would. `clear` deletes the cache's files, the embedding "
        "backends' exported models included (--keep-models keeps them).",
    )
    actions = p.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    for name, run, text in (
        ("verify", verify, "check every shard; exit 1 when one is damaged"),
        ("clear", clear, "delete the cached embeddings and exported models"),
    ):
        action = actions.add_parser(name, parents=[common], help=text, description=text)
        action.add_argument("--cache-dir", help="embedding cache folder")
        if name == "verify":
            action.add_argument(
                "--repair", action="store_true", help="move damaged shards aside now"
            )
        else:
            action.add_argument(
                "--keep-models",
                action="store_true",
                help="keep the exported models of the embedding backends (models/)",
            )
        action.set_defaults(run=run)
