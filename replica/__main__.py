"""Run the replica: ``python -m replica [--port 0] [--documents N] ...``.

The first line printed on stdout is the base URL (``http://127.0.0.1:PORT``), so that a
script can start the replica with ``--port 0`` and read where it listens.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonlines

from replica import churn as churn_module
from replica import faults as faults_module
from replica.churn import DEFAULT_CHURN, MAX_NIGHT, Churn, ChurnSpecError
from replica.dataset import DEFAULT_SEED, DEFAULT_SIZE, Archive, Changes
from replica.faults import FaultLog, FaultPlan, FaultSpecError, build_faulty_archive
from replica.server import ReplicaServer


def _positive(text: str) -> int:
    value = int(text)
    if value < 11:
        raise argparse.ArgumentTypeError(f"{value}: must be at least 11 (the seed search)")
    return value


def _night(text: str) -> int:
    if not text.isdigit() or int(text) > MAX_NIGHT:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give a whole number from 0 (the base archive) to {MAX_NIGHT}"
        )
    return int(text)


def _churn(text: str) -> Churn:
    try:
        return Churn.parse(text)
    except ChurnSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _changes(text: str) -> Changes:
    try:
        return Changes.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m replica",
        description="A local replica of the Wilson Center Digital Archive, bound to 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=8000, help="TCP port; 0 picks a free one (default 8000)")
    parser.add_argument(
        "--documents",
        type=_positive,
        default=DEFAULT_SIZE,
        help=f"number of documents (default {DEFAULT_SIZE}, the real archive's size)",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="seed of the generated content and faults"
    )
    parser.add_argument(
        "--faults",
        default="",
        metavar="SPEC",
        help="fault plan, e.g. 'layout,503@/search?page=3#1-2,500@0.05'; the grammar is the "
        "docstring of replica/faults.py (print it with --faults-help)",
    )
    parser.add_argument("--faults-help", action="store_true", help="print the --faults grammar and exit")
    parser.add_argument(
        "--fault-log",
        type=Path,
        metavar="FILE",
        help="write every injected fault as a JSON line to FILE (truncated at start)",
    )
    parser.add_argument(
        "--changes",
        type=_changes,
        default=Changes(),
        metavar="ADDED,EDITED,REMOVED",
        help="the archive after new uploads, edits and removals (deterministic), e.g. 25,10,5",
    )
    parser.add_argument(
        "--night",
        type=_night,
        default=0,
        metavar="K",
        help="the archive as it stands on night K of a deterministic churn (default 0: the base "
        "archive); night K+1 is night K plus that night's events (see --churn, --dump-events)",
    )
    parser.add_argument(
        "--churn",
        type=_churn,
        default=Churn.parse(DEFAULT_CHURN),
        metavar="SPEC",
        help="each night's events: NAME=N or NAME=N-M (drawn each night), comma-separated, names "
        "uploads, edits (summary and title or date), deepedits (document page only), removals "
        "(404 or 410), reappearances (removed earlier, back in place); a name left out is 0, "
        f"'none' is no churn (default {DEFAULT_CHURN}); the rules: --churn-help",
    )
    parser.add_argument("--churn-help", action="store_true", help="print the --churn rules and exit")
    parser.add_argument(
        "--dump-events",
        type=Path,
        metavar="FILE",
        help='write the night\'s events as JSON lines ({"night", "event", "slug", "position", ...}; '
        "none on night 0)",
    )
    parser.add_argument(
        "--dump-truth",
        type=Path,
        metavar="FILE",
        help="write the replica's dataset (what a harvest must produce) as JSON Lines",
    )
    parser.add_argument(
        "--truth-page-size",
        type=int,
        default=10,
        metavar="N",
        help="the items_per_page the harvest asks for, for the truth's listing URLs (default 10: none asked)",
    )
    parser.add_argument(
        "--dump-only",
        action="store_true",
        help="with --dump-truth or --dump-events: write the files and exit instead of serving",
    )
    parser.add_argument(
        "--no-validators",
        action="store_true",
        help="document pages without ETag and Last-Modified; If-None-Match and If-Modified-Since ignored",
    )
    coding = parser.add_mutually_exclusive_group()
    coding.add_argument(
        "--identity",
        action="store_true",
        help="never compress: bodies as they are, even to a client whose Accept-Encoding takes gzip",
    )
    coding.add_argument(
        "--brotli",
        action="store_true",
        help="compress in Brotli (br) for a client that takes it, gzip for one that takes gzip alone",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return parser.parse_args(argv)


def dump_truth(
    archive: Archive, base_url: str, path: Path, per_page: int = 10, served: int | None = None
) -> None:
    """Write the truth atomically (see :func:`write_jsonl`)."""
    write_jsonl(path, archive.truth(base_url, per_page, served))


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write atomically: a reader never sees a half-written file.

    The file gets the mode a new file gets (0666 less the umask: 0644 under the usual 022),
    not the 0600 of a private temporary file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle, jsonlines.Writer(handle, compact=True) as writer:
            writer.write_all(rows)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.faults_help:
        print(faults_module.__doc__)
        return 0
    if args.churn_help:
        print(churn_module.__doc__)
        return 0
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s [replica] %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        faults = FaultPlan.parse(args.faults)
    except FaultSpecError as exc:
        print(f"error: --faults: {exc}", file=sys.stderr)
        return 2
    fault_log = FaultLog(args.fault_log)
    try:
        archive = build_faulty_archive(
            faults, args.documents, args.seed, args.changes, fault_log, night=args.night, churn=args.churn
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.night:
        kinds = Counter(e["event"] for e in archive.events)
        logging.info(
            "night %d of churn %s: %d documents, %d removed; tonight %s",
            args.night,
            args.churn,
            len(archive.docs) - faults.shift_total,
            len(archive.gone),
            ", ".join(f"{n} {k}" for k, n in kinds.items()) or "nothing",
        )
    if args.dump_events:
        write_jsonl(args.dump_events, archive.events)
    # With ignoreperpage the site serves its default page whatever the harvest asks.
    served = 10 if faults.switch("ignoreperpage") is not None else None
    if args.dump_only:
        if not (args.dump_truth or args.dump_events):
            print("error: --dump-only needs --dump-truth FILE (or --dump-events FILE)", file=sys.stderr)
            return 2
        if args.dump_truth:
            dump_truth(
                archive, f"http://127.0.0.1:{args.port}", args.dump_truth, args.truth_page_size, served
            )
        fault_log.close()
        return 0
    try:
        server = ReplicaServer(
            archive,
            args.port,
            faults,
            fault_log=fault_log,
            validators=not args.no_validators,
            codings=() if args.identity else ("br", "gzip") if args.brotli else ("gzip",),
        )
    except OSError as exc:
        print(
            f"error: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}; "
            "pick another --port, or 0 for a free one",
            file=sys.stderr,
        )
        return 2
    if args.dump_truth:
        dump_truth(archive, server.base_url, args.dump_truth, args.truth_page_size, served)
    print(server.base_url, flush=True)
    staged = f" (+{faults.shift_total} staged by shift)" if faults.shift_total else ""
    logging.info(
        "serving %d documents%s at %s (faults: %s)",
        len(archive.docs) - faults.shift_total,
        staged,
        server.base_url,
        args.faults or "none",
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        fault_log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
