"""pywb replays what the harvester archives (issue 17): ``python -m benchmarks.pywb_check``.

pywb (2.10, with gevent and its own pins) is not a dependency of the harvester: this check
installs it into a venv of its own (``--venv``, ``output/pywb-venv`` by default; kept, so the
next check reuses it), then, against the replica:

1. a single details run (``-O single.jsonl``: ``single.wacz``);
2. a scheduled details job over three nights of churn (``--night 0, 1, 2``, its history moved a
   day back between nights, the last night refreshing every document so that 304s make revisit
   records): ``jobs/nightly/archive.wacz``;
3. ``wb-manager init`` a collection for each, ``wb-manager add --unpack-wacz`` the WACZ into it,
   ``wayback`` on 127.0.0.1 (a free port), and for document records of each dataset fetches
   ``/<coll>/<captured_at as 14 digits>id_/<url of the capture>`` and checks that the body is
   the archived one (read by warcio from the WACZ by the record's ``capture_id``); for the job,
   also a document page at the time of a revisit record and with no time at all (pywb's latest
   capture), which must answer with the page the revisit confirms.

It prints each step's time and exits 1 if any body differs. Needs the network (or a package
mirror) once, for ``pip install pywb``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

from benchmarks.common import log
from replica.process import ROOT, crawl_command, running_replica

PYWB = "pywb==2.10.0"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_pywb(venv: Path) -> float:
    """pywb in its own venv; the seconds the install took (0 when it was there)."""
    if (venv / "bin" / "wayback").exists():
        return 0.0
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", PYWB], check=True)
    return time.monotonic() - started


def harvest(base_url: str, *args: str) -> None:
    cmd = crawl_command(base_url, "-s", "HARVESTER_PROGRESS_INTERVAL=0", "-s", "LOG_LEVEL=WARNING", *args)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise SystemExit(f"the harvest failed: {' '.join(args)}\n{result.stderr[-2000:]}")


def a_day_passes(jobs: Path) -> None:
    from tests.nights import a_day_passes as shift  # test tooling: the job's history moved a day back

    shift(jobs)


def archived(wacz: Path) -> dict[str, Any]:
    """Every response and revisit record of a WACZ by record id: (type, headers, payload)."""
    out = {}
    with zipfile.ZipFile(wacz) as zf:
        for name in zf.namelist():
            if not name.startswith("archive/"):
                continue
            for record in ArchiveIterator(io.BytesIO(zf.read(name))):
                if record.rec_type in ("response", "revisit"):
                    out[record.rec_headers.get_header("WARC-Record-ID")] = (
                        record.rec_type, record.rec_headers, record.content_stream().read(),
                    )  # fmt: skip
    return out


@contextmanager
def wayback(venv: Path, folder: Path, collections: dict[str, Path]) -> Iterator[tuple[str, dict[str, float]]]:
    """pywb serving each WACZ in a collection of its own: its base URL, and step times."""
    times: dict[str, float] = {}
    bin_dir = venv / "bin"
    started = time.monotonic()
    for name, wacz in collections.items():
        subprocess.run(
            [str(bin_dir / "wb-manager"), "init", name], cwd=folder, check=True, capture_output=True
        )
        added = subprocess.run(
            [str(bin_dir / "wb-manager"), "add", "--unpack-wacz", name, str(wacz)],
            cwd=folder, capture_output=True, text=True, check=True,
        )  # fmt: skip
        if "does not contain" in added.stderr:
            raise SystemExit(f"pywb did not add {wacz}: {added.stderr.strip()}")
    times["wb-manager add (s)"] = time.monotonic() - started
    port = free_port()
    started = time.monotonic()
    server = subprocess.Popen(
        [str(bin_dir / "wayback"), "-p", str(port), "-b", "127.0.0.1"],
        cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                urllib.request.urlopen(base + "/", timeout=2).close()
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() - started > 60:
                    raise SystemExit("pywb did not start") from None
                time.sleep(0.1)
        times["wayback start (s)"] = time.monotonic() - started
        yield base, times
    finally:
        server.terminate()
        server.wait(timeout=30)


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def stamp(warc_date: str) -> str:
    return "".join(ch for ch in warc_date if ch.isdigit())[:14]


def check_records(base: str, coll: str, dataset: Path, wacz: Path, limit: int) -> list[str]:
    """Fetch each record's capture through pywb at its ``captured_at``; the problems found."""
    found = archived(wacz)
    problems = []
    with dataset.open(encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()][:limit]
    for record in records:
        _, headers, body = found[record["capture_id"]]
        url = headers.get_header("WARC-Target-URI")
        status, got = fetch(f"{base}/{coll}/{stamp(record['captured_at'])}id_/{url}")
        if status != 200 or got != body:
            problems.append(f"{coll}: {url} at {record['captured_at']}: HTTP {status}, {len(got)} bytes")
    return problems


def check_revisits(base: str, coll: str, wacz: Path, limit: int) -> tuple[int, int, list[str]]:
    """Fetch document pages at the time of a revisit, and with no time when the revisit is
    the URL's latest capture: pywb must answer with the page the revisit confirms."""
    found = archived(wacz)
    latest: dict[str, Any] = {}
    for headers in (h for _, h, _ in found.values()):
        url = headers.get_header("WARC-Target-URI")
        if url not in latest or headers.get_header("WARC-Date") > latest[url].get_header("WARC-Date"):
            latest[url] = headers
    problems = []
    revisits = [h for kind, h, _ in found.values() if kind == "revisit"][:limit]
    as_latest = 0
    for headers in revisits:
        _, _, body = found[headers.get_header("WARC-Refers-To")]
        url = headers.get_header("WARC-Target-URI")
        times = [stamp(headers.get_header("WARC-Date"))] + ([""] if latest[url] is headers else [])
        as_latest += len(times) - 1
        for when in times:
            status, got = fetch(f"{base}/{coll}/{when}id_/{url}")
            if status != 200 or got != body:
                problems.append(f"{coll}: {url} at {when or 'latest'}: HTTP {status}, {len(got)} bytes")
    return len(revisits), as_latest, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.pywb_check", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--venv", type=Path, default=ROOT / "output" / "pywb-venv")
    parser.add_argument("--documents", type=int, default=100)
    parser.add_argument(
        "--work", type=Path, help="keep the archives and pywb's collections in this new folder"
    )
    parser.add_argument("--records", type=int, default=20, help="records (and revisits) fetched per archive")
    args = parser.parse_args(argv)
    started = time.monotonic()
    install = ensure_pywb(args.venv)
    log(f"pywb in {args.venv}" + (f" (installed in {install:.1f} s)" if install else " (already installed)"))
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="pywb-check-") as tmp:
        work = args.work or Path(tmp)
        jobs = work / "jobs"
        job = ("-a", "job=nightly", "-a", "details=true", "-s", f"HARVESTER_JOBS_DIR={jobs}",
               "-s", "HARVESTER_PAGE_SIZE=20")  # fmt: skip
        crawl_started = time.monotonic()
        for night in range(3):
            if night:
                a_day_passes(jobs)
            with running_replica(port=port, documents=args.documents, night=night) as rep:
                if night == 0:
                    harvest(rep.base_url, "-a", "details=true", "-O", str(work / "single.jsonl"))
                last = ("-s", "HARVESTER_JOB_FULL_EVERY_DAYS=1") if night == 2 else ()  # refresh all: 304s
                harvest(rep.base_url, *job, *last)
        crawls = time.monotonic() - crawl_started
        log(f"a single run and three nights of a job in {crawls:.1f} s")
        single, grown = work / "single.wacz", jobs / "nightly" / "archive.wacz"
        (work / "pywb").mkdir()
        with wayback(args.venv, work / "pywb", {"single": single, "job": grown}) as (base, times):
            fetch_started = time.monotonic()
            problems = check_records(base, "single", work / "single.jsonl", single, args.records)
            problems += check_records(base, "job", jobs / "nightly" / "archive.jsonl", grown, args.records)
            revisits, as_latest, wrong = check_revisits(base, "job", grown, args.records)
            problems += wrong
            times["fetches (s)"] = time.monotonic() - fetch_started
    print(f"pywb check ({PYWB}): {args.records} records of a single run's WACZ and of a job's after 3 nights, "
          f"{revisits} revisits at their time ({as_latest} of them also as the URL's latest capture)")  # fmt: skip
    print(f"  pip install: {install:.1f} s" if install else "  pip install: already installed")
    for name, seconds in times.items():
        print(f"  {name}: {seconds:.1f}")
    print(f"  whole check: {time.monotonic() - started:.1f} s")
    for problem in problems:
        print(f"  DIFFERS: {problem}")
    print(
        "  result: " + ("every body equals the archived one" if not problems else f"{len(problems)} differ")
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
