"""Where a run's HTML report goes, what goes into it, and writing it.

A single run's report lies beside its first output (``output/archive.jsonl`` ->
``output/archive.report.html``), a job's in its folder (``output/jobs/<job>/report.html``).
At the end of a run the report is built from the summary and the records the run saw; the
same report is rebuilt later from the files alone by ``python -m harvester.report PATH``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from harvester import __version__
from harvester.files import dataset_stem, write_atomically
from harvester.jobs.store import read_history
from harvester.report import charts
from harvester.report.dataset import DatasetProfile
from harvester.report.html import MAX_CHANGES, ReportData, render
from harvester.report.summary import Fingerprint, jsonl_files

logger = logging.getLogger(__name__)

REPORT_SUFFIX = ".report.html"
SUMMARY_SUFFIX = ".summary.json"
JOB_REPORT = "report.html"


def stem(path: Path) -> str:
    """A dataset's name (:func:`harvester.files.dataset_stem`): ``archive.failed.jsonl`` -> ``archive``.

    >>> stem(Path("out/korea.failed.jsonl")), stem(Path("wilson.2026-12-01.summary.json"))
    ('korea', 'wilson.2026-12-01')
    """
    return dataset_stem(path)


def report_path(first_output: Path | None, summary: Path | None) -> Path | None:
    """A single run's report: beside its first output, else beside its summary.

    >>> report_path(Path("output/wilson.2026-12-01.jsonl"), None)
    PosixPath('output/wilson.2026-12-01.report.html')
    >>> report_path(None, Path("out/x.summary.json"))
    PosixPath('out/x.report.html')
    >>> report_path(None, None) is None
    True
    """
    anchor = first_output or summary
    if anchor is None:
        return None
    return anchor.with_name(stem(anchor) + REPORT_SUFFIX)


def write_report(path: Path, data: ReportData, *, charts_apart: bool = False) -> int:
    """Write the page atomically; return its size in bytes. ``charts_apart``: draw its charts
    in a child process (a crawl's report: matplotlib stays out of the crawl's memory)."""
    data.built = data.built or datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    data.version = __version__
    page = render(data, charts.draw_apart if charts_apart else charts.draw_here).encode("utf-8")

    def write(handle: IO[bytes]) -> None:
        handle.write(page)

    write_atomically(path, write)
    return len(page)


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _load_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return value if isinstance(value, dict) else None


# --- a job ------------------------------------------------------------------------------------


def job_report(directory: Path, summary: dict[str, Any] | None = None) -> ReportData:
    """A job's report from its folder: the last run's summary, its history (read-only), the
    published dataset and the last change set."""
    summary_file = directory / "summary.json"
    history = read_history(directory)
    if summary is None:
        summary = _load_json(summary_file)
    if summary is None and history:
        summary = history[-1].get("summary")
    summary = dict(summary or {"job": directory.name, "status": "unknown"})
    changes: list[dict[str, Any]] = []
    total = 0
    changes_file = directory / "changes.jsonl"
    if changes_file.is_file():
        for entry in iter_jsonl(changes_file):
            total += 1
            if len(changes) < MAX_CHANGES:
                changes.append(entry)
    wanted = {str(c.get("url")) for c in changes}
    titles: dict[str, str] = {}
    dataset = directory / "archive.jsonl"
    profile = None
    note = None
    if dataset.is_file():
        profile = DatasetProfile()
        for record in iter_jsonl(dataset):
            profile.add(record)
            if record.get("url") in wanted and record.get("title"):
                titles[str(record["url"])] = str(record["title"])
        if summary.get("status") != "ok":
            note = "The job's published dataset, as the last complete run left it: this run changed nothing."
    elif summary.get("status") != "ok":
        note = "The job has published no dataset yet."
    sources = [
        str(p) for p in (summary_file, directory / "state.sqlite", changes_file, dataset) if p.exists()
    ]
    return ReportData(
        summary=summary, profile=profile, dataset=str(dataset) if profile else None, dataset_note=note,
        history=history, changes=changes, changes_total=total, changes_published=changes_file.is_file(),
        titles=titles, sources=sources,
    )  # fmt: skip


# --- a single run -------------------------------------------------------------------------------


def _dataset_of(summary: dict[str, Any], summary_file: Path) -> Path | None:
    """The JSON Lines file a summary names: the published one, else the one kept aside."""
    for name in jsonl_files(summary.get("files") or {}):
        for candidate in (Path(name), summary_file.parent / Path(name).name):
            if candidate.is_file():
                return candidate
    return None


def _fingerprint_in(summary: dict[str, Any], dataset: Path) -> dict[str, Any] | None:
    """What the summary says *dataset* was when its run ended (``None``: it does not say;
    summaries before 0.2 did not record it)."""
    recorded = summary.get("datasets") or {}
    for name in jsonl_files(summary.get("files") or {}):
        if Path(name).name == dataset.name and isinstance(recorded.get(name), dict):
            return dict(recorded[name])
    return None


def _profile(dataset: Path, seen: Fingerprint) -> DatasetProfile:
    """The dataset's profile, its bytes fed to *seen* in the same pass."""

    def records() -> Iterator[dict[str, Any]]:
        with dataset.open("rb") as handle:
            for line in handle:
                seen.update(line)
                if line.strip():
                    yield json.loads(line)

    return DatasetProfile().extend(records())


def _disagreement(dataset: Path, summary_file: Path, was: dict[str, Any], now: Fingerprint | None) -> str:
    """How *dataset* differs from what *summary_file* recorded of it (now: its size, or size
    and hash when read)."""
    size = now.size if now is not None else dataset.stat().st_size
    digest = f", sha256 {now.as_dict()['sha256'][:12]}" if now is not None else ""
    return (
        f"{dataset} is not the dataset {summary_file} describes: {was.get('bytes', 0):,} bytes, "
        f"sha256 {str(was.get('sha256'))[:12]} when that run ended; {size:,} bytes{digest} now "
        f"(a later run, or someone, replaced it)"
    )


def rebuild(path: Path) -> tuple[Path, ReportData]:
    """Where the report of ``path`` goes and what it shows. ``path``: a job's folder, a
    dataset (``.jsonl``, also a failed run's ``.failed.jsonl``) or a run summary."""
    if path.is_dir():
        return path / JOB_REPORT, job_report(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist; give a dataset (.jsonl), a run summary or a job folder"
        )
    if (path.parent / "state.sqlite").is_file():
        return rebuild(path.parent)  # a file of a job's folder: the job's report
    if path.name.endswith(SUMMARY_SUFFIX):
        summary_file, dataset = path, None
    else:
        summary_file, dataset = path.with_name(stem(path) + SUMMARY_SUFFIX), path
    summary = _load_json(summary_file)
    if dataset is None and summary is not None:
        dataset = _dataset_of(summary, summary_file)
    note = None
    if summary is None:
        note = f"No run summary beside it ({summary_file.name}): the report covers the dataset only."
        summary = {"status": "unknown", "reasons": []}
    elif dataset is not None and dataset.name not in {Path(str(f)).name for f in _named_files(summary)}:
        note = (
            f"The run summary beside it ({summary_file.name}) is of a later run that did not "
            f"write {dataset.name}: the verdict and the run's figures are that run's."
        )
    was = _fingerprint_in(summary, dataset) if dataset is not None else None
    if was is not None and dataset is not None and dataset.stat().st_size != was.get("bytes"):
        summary, note = _changed_since(path, dataset, summary_file, was, None)  # or refused
        was = None
    profile = None
    if dataset is not None and dataset.suffix == ".jsonl":
        seen = Fingerprint()
        profile = _profile(dataset, seen)
        if was is not None and seen.as_dict() != {"bytes": was.get("bytes"), "sha256": was.get("sha256")}:
            summary, note = _changed_since(path, dataset, summary_file, was, seen)  # or refused
    elif dataset is not None:
        note = f"{dataset.name} is not JSON Lines: the report covers the run only."
        dataset = None
    sources = [str(p) for p in (summary_file, dataset) if p is not None and p.exists()]
    data = ReportData(summary=summary, profile=profile, dataset=str(dataset) if dataset else None,
                      dataset_note=note, sources=sources)  # fmt: skip
    return (path.with_name(stem(path) + REPORT_SUFFIX), data)


def _changed_since(
    path: Path, dataset: Path, summary_file: Path, was: dict[str, Any], seen: Fingerprint | None
) -> tuple[dict[str, Any], str]:
    """*dataset* is no longer what *summary_file* recorded of it (*was*).

    Asked for a run (its summary), the report is refused: the page would draw one run's
    figures with another's records. Asked for a dataset, the report covers the records alone
    (the summary and note returned) and says why the summary beside it is left out.
    """
    differs = _disagreement(dataset, summary_file, was, seen)
    if path == summary_file:
        raise ValueError(
            f"{differs}. For the records alone: python -m harvester.report {dataset} ; to keep "
            f"every run's report, give each run its own output (-O out/wilson.<date>.jsonl)"
        )
    return {"status": "unknown", "reasons": []}, (
        f"{differs}: the verdict and the run's figures of {summary_file.name} are left out; "
        f"the report covers the records only."
    )


def _named_files(summary: dict[str, Any]) -> list[Any]:
    files = summary.get("files") or {}
    return [v for k, v in files.items() if k != "kept_aside"] + list(files.get("kept_aside") or [])
