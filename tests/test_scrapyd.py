"""Under Scrapyd: deployed as an egg with ``scrapyd-deploy``, run with ``schedule.json``.

A real Scrapyd runs in a subprocess on 127.0.0.1 (a free port), in a folder of its own with
its ``scrapyd.conf``, under a Python that has Scrapyd and the harvester's dependencies but not
the harvester: its runs can only import it from the egg ``scrapyd-deploy`` built and uploaded
(a zipped egg, with no checkout, no ``scrapy.cfg`` and no ``replica/`` beside it). The egg is
built from a copy of the project, so the checkout gets no ``build/``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from urllib.request import urlopen

import pytest

from harvester import __version__
from harvester.jobs.lock import JobLock
from replica.process import Replica, running_replica, stop_process
from tests.conftest import ROOT, read_jsonl
from tests.test_jobs import assert_equals_truth, free_port

DOCUMENTS = 30
#: What of the checkout is not the project: never copied to build the egg from.
NOT_THE_PROJECT = shutil.ignore_patterns(
    ".git", ".venv", "output", "build", "*.egg-info", "__pycache__", ".*_cache"
)


@dataclass
class Scrapyd:
    url: str
    folder: Path
    """Scrapyd's working folder: its eggs/, logs/, dbs/, and the default output/ of the runs."""
    log: Path
    """What Scrapyd itself prints (its launcher says how each process ended)."""
    deployed: dict[str, Any]
    """``addversion.json``'s answer, as scrapyd-deploy printed it."""
    targets: str
    """``scrapyd-client targets``."""

    def call(self, endpoint: str, *, post: bool = False, **fields: str | list[str]) -> dict[str, Any]:
        """A GET (fields in the query) or a POST (fields in the body) of Scrapyd's JSON API."""
        query = urlencode(fields, doseq=True)
        url, body = (
            (f"{self.url}/{endpoint}", query.encode()) if post else (f"{self.url}/{endpoint}?{query}", None)
        )
        with urlopen(url, body, timeout=60) as response:
            answer: dict[str, Any] = json.load(response)
        assert answer["status"] == "ok", answer
        return answer

    def schedule(self, *arguments: str, settings: dict[str, str]) -> str:
        """``schedule.json`` for the archive spider: ``NAME=VALUE`` spider arguments, settings."""
        fields: dict[str, str | list[str]] = {
            name: value for name, _, value in (a.partition("=") for a in arguments)
        }
        fields["setting"] = [f"{name}={value}" for name, value in settings.items()]
        answer = self.call("schedule.json", post=True, project="harvester", spider="archive", **fields)
        return str(answer["jobid"])

    def finished(self, jobid: str, timeout: float = 120) -> dict[str, Any]:
        """The job as ``listjobs.json`` lists it once finished."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for job in self.call("listjobs.json", project="harvester")["finished"]:
                if job["id"] == jobid:
                    return dict(job)
            time.sleep(0.2)
        raise AssertionError(f"job {jobid} not finished in {timeout} s: {self.log.read_text()[-3000:]}")

    def run_log(self, job: dict[str, Any]) -> str:
        """The run's log, where listjobs.json's ``log_url`` says."""
        with urlopen(f"{self.url}{job['log_url']}", timeout=60) as response:
            return str(response.read().decode("utf-8"))

    def how_it_ended(self, jobid: str, timeout: float = 10) -> str:
        """Scrapyd's own line on the process: ``Process finished:`` or ``Process died: exitstatus=N``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log.read_text(encoding="utf-8").splitlines():
                if f"job='{jobid}'" in line and ("Process finished:" in line or "Process died:" in line):
                    return line
            time.sleep(0.1)
        raise AssertionError(f"Scrapyd logged no end of {jobid}: {self.log.read_text()[-3000:]}")


def host_python(folder: Path) -> Path:
    """A Python with this one's packages but not the harvester (a Scrapyd host's, which has
    what the egg needs installed, and gets the harvester only by deploying it)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    ours = {Path(sysconfig.get_paths()[kind]) for kind in ("purelib", "platlib")}
    theirs = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
    )  # fmt: skip
    for packages in ours:
        for entry in packages.iterdir():
            name = entry.name.lower()
            if name == "harvester" or name.startswith(("harvester-", "harvester.", "__editable__")):
                continue
            if not (theirs / entry.name).exists():
                (theirs / entry.name).symlink_to(entry)
    return python


def without_checkout_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SCRAPY_SETTINGS_MODULE")}
    # ~/.scrapyd.conf and ~/.config/scrapy.cfg are the test's own.
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
    return env


def run(cmd: list[str | Path], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr + done.stdout
    return done


def wait_until_serving(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urlopen(f"{url}/daemonstatus.json", timeout=5):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"Scrapyd did not start: {log.read_text()[-3000:]}") from None
            time.sleep(0.2)


@pytest.fixture(scope="module")
def scrapyd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scrapyd]:
    tmp = tmp_path_factory.mktemp("scrapyd")
    python = host_python(tmp / "host")
    home, folder, project = tmp / "home", tmp / "scrapyd", tmp / "project"
    (home / ".config").mkdir(parents=True)
    folder.mkdir()
    env = without_checkout_env(home)
    imports = subprocess.run(
        [python, "-c", "import harvester"], cwd=folder, env=env, capture_output=True, text=True
    )
    assert "No module named 'harvester'" in imports.stderr, "the Scrapyd host must not have the harvester"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    (folder / "scrapyd.conf").write_text(
        f"[scrapyd]\nbind_address = 127.0.0.1\nhttp_port = {port}\npoll_interval = 0.2\n", encoding="utf-8"
    )
    log = tmp / "scrapyd.log"
    with log.open("w", encoding="utf-8") as out:
        process = subprocess.Popen([python, "-m", "scrapyd"], cwd=folder, env=env, stdout=out, stderr=out)
    try:
        wait_until_serving(url, process, log)
        # A deploy target for this Scrapyd in the user's scrapy.cfg; the project's own gives
        # the project's name (and a default target, localhost:6800).
        (home / ".config" / "scrapy.cfg").write_text(f"[deploy:test]\nurl = {url}/\n", encoding="utf-8")
        shutil.copytree(ROOT, project, ignore=NOT_THE_PROJECT)
        tools = Path(sys.executable).parent
        deploy = run([tools / "scrapyd-deploy", "test"], project, env)
        targets = run([tools / "scrapyd-client", "targets"], project, env)
        # scrapyd-deploy writes a setup.py of its own only where there is none.
        assert (project / "setup.py").read_text() == (ROOT / "setup.py").read_text()
        yield Scrapyd(url, folder, log, json.loads(deploy.stdout), targets.stdout)
    finally:
        stop_process(process, 30)


@pytest.fixture(scope="module")
def small_replica(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replica]:
    truth = tmp_path_factory.mktemp("replica") / "truth.jsonl"
    with running_replica(documents=DOCUMENTS, dump_truth=truth, truth_page_size=100) as rep:
        yield rep


def test_scrapyd_deploy_uploads_an_egg_of_the_harvester_alone(scrapyd: Scrapyd) -> None:
    assert scrapyd.deployed["project"] == "harvester"
    assert scrapyd.deployed["spiders"] == 1  # Scrapyd listed the spiders by running the egg
    assert scrapyd.targets.split() == ["default", "http://localhost:6800/", "test", f"{scrapyd.url}/"]
    (egg,) = (scrapyd.folder / "eggs" / "harvester").glob("*.egg")
    with zipfile.ZipFile(egg) as archive:
        names = archive.namelist()
        entry_points = archive.read("EGG-INFO/entry_points.txt").decode()
    assert {name.split("/")[0] for name in names} == {"harvester", "EGG-INFO"}
    assert "harvester/schema/document.schema.json" in names
    assert "[scrapy]\nsettings = harvester.settings" in entry_points


def test_a_job_scheduled_twice_publishes_the_dataset_then_runs_incrementally(
    scrapyd: Scrapyd, small_replica: Replica, tmp_path: Path
) -> None:
    jobs = tmp_path / "jobs"
    settings = {"HARVESTER_JOBS_DIR": str(jobs), "HARVESTER_BASE_URL": small_replica.base_url}
    summaries = []
    for _ in range(2):
        jobid = scrapyd.schedule("job=nightly", "details=true", settings=settings)
        job = scrapyd.finished(jobid)
        assert "Process finished:" in scrapyd.how_it_ended(jobid)  # exit status 0
        log = scrapyd.run_log(job)
        assert log.rstrip().splitlines()[-1].endswith("[harvester] INFO: Run OK"), log[-3000:]
        assert job["log_url"] == f"/logs/harvester/archive/{jobid}.log"
        assert (scrapyd.folder / "logs" / "harvester" / "archive" / f"{jobid}.log").read_text(
            encoding="utf-8"
        ) == log
        summaries.append(json.loads((jobs / "nightly" / "summary.json").read_text(encoding="utf-8")))
        assert summaries[-1]["status"] == "ok"
        assert small_replica.truth_path is not None
        assert_equals_truth(jobs / "nightly" / "archive.jsonl", small_replica.truth_path)
    first, second = summaries
    assert (first["run"], first["mode"], first["changes"]["added"]) == (1, "full", DOCUMENTS)
    assert first["requests"] > DOCUMENTS
    assert (second["run"], second["mode"], second["stopped_by"]) == (2, "incremental", "known_documents")
    assert second["changes"] == {"added": 0, "changed": 0, "removed": 0}
    assert second["requests"] <= 5
    assert read_jsonl(jobs / "nightly" / "changes.jsonl") == []
    # The harvester's version in the web archive comes from the egg's code, not from an
    # installed distribution's metadata (Scrapyd names the egg by its upload, not "harvester").
    with zipfile.ZipFile(jobs / "nightly" / "archive.wacz") as wacz:
        software = json.loads(wacz.read("datapackage.json"))["software"]
    assert software.startswith(f"harvester {__version__} (")
    # The report's charts are drawn by a child Python, which finds the harvester in the egg
    # (on sys.path only in Scrapyd's runner) through the import path it is given.
    report = (jobs / "nightly" / "report.html").read_text(encoding="utf-8")
    assert "<svg" in report and "Chart not drawn" not in report


def test_a_run_of_a_job_already_running_fails_with_exit_status_1(
    scrapyd: Scrapyd, small_replica: Replica
) -> None:
    # The job's default folder: output/jobs/<job> in Scrapyd's folder.
    folder = scrapyd.folder / "output" / "jobs" / "nightly"
    lock = JobLock(folder / "lock")
    lock.acquire()  # as a run of the job going on would
    try:
        # schedule.json's _version (the deployed egg's) reaches the spider as -a _version=...
        version = f"_version={scrapyd.deployed['version']}"
        jobid = scrapyd.schedule(
            "job=nightly", version, settings={"HARVESTER_BASE_URL": small_replica.base_url}
        )
        job = scrapyd.finished(jobid)
    finally:
        lock.release()
    # Scrapyd lists it as finished like any job: the exit status is in its own log, the
    # verdict on the last line of the run's.
    assert "Process died: exitstatus=1" in scrapyd.how_it_ended(jobid)
    last = scrapyd.run_log(job).rstrip().splitlines()[-1]
    assert (
        f"[harvester] ERROR: Run FAILED: job is already running (pid {os.getpid()}, lock {folder / 'lock'})"
        in last
    )
    assert sorted(path.name for path in folder.iterdir()) == ["lock"]


def test_a_single_run_writes_the_default_output_in_scrapyds_folder(
    scrapyd: Scrapyd, small_replica: Replica
) -> None:
    jobid = scrapyd.schedule("max_pages=1", settings={"HARVESTER_BASE_URL": small_replica.base_url})
    job = scrapyd.finished(jobid)
    assert "Process finished:" in scrapyd.how_it_ended(jobid)
    assert scrapyd.run_log(job).rstrip().endswith("Run OK")
    assert len(read_jsonl(scrapyd.folder / "output" / "archive.jsonl")) == DOCUMENTS
    assert (scrapyd.folder / "output" / "archive.csv").is_file()
