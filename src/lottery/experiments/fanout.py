"""Fan the independent parts of an experiment out over an executor (worker processes, a Ray cluster).

A *job* is a short list of calls ``fn(exp, *args)`` run in order in one task (e.g. one trial's whole
IMP chain, which is sequential by nature); jobs passed to one :func:`map_jobs` must be independent.

Locking. The driver process holds the experiment's file lock for the whole run (``with Experiment``),
so no second ``lottery run`` can start on the same folder. Worker tasks do not take that lock (they
would wait on it forever): each reopens the experiment from a picklable :class:`ExperimentHandle`
*without* entering it, and relies on three facts instead:

* every job writes only its own files (one trial's folder, or one branch/level folder), so no two
  tasks ever write the same path -- callers of :func:`map_jobs` must keep it that way;
* every file is written atomically (temp file + rename), so readers never see half a file, and a
  file two tasks might both create (θ0 of a trial) is identical whoever writes it;
* the driver waits for every task before it leaves ``with Experiment`` and releases the lock.

On several machines the results root (``--out``) must be on a file system all of them share; a
worker that cannot see the experiment folder fails with a clear error instead of writing elsewhere.
"""

import socket
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from ..data import DataSplits
from ..errors import LotteryError
from ..executors import Executor, LocalExecutor
from ..hparams import ExperimentHparams
from ..options import RunOptions
from .experiment import Experiment


@dataclass(frozen=True)
class ExperimentHandle:
    """Everything a worker needs to reopen an experiment (picklable; no lock, no model)."""

    hp: ExperimentHparams
    root: Path
    options: RunOptions  # the driver's, progress bars aside
    data: DataSplits | None  # in-memory data the driver was given; None: workers load it by name

    @classmethod
    def of(cls, exp: Experiment) -> "ExperimentHandle":
        return cls(exp.hp, exp.paths.folder.parent, exp.options, exp.given_data)

    def open(self) -> Experiment:
        """The experiment, not entered (no lock: the driver holds it), without progress bars."""
        exp = Experiment(self.hp, self.root, replace(self.options, progress=False), data=self.data)
        if not exp.paths.hparams.exists():
            raise LotteryError(
                f"worker on {socket.gethostname()} cannot see {exp.paths.folder}; with several "
                "machines, --out must be a folder on a file system they all share"
            )
        return exp


@dataclass(frozen=True)
class Call:
    """``fn(exp, *args)``; ``fn`` must be a module-level function so that it pickles by name."""

    fn: Callable[..., Any]
    args: tuple = ()

    def __call__(self, exp: Experiment):
        return self.fn(exp, *self.args)


def _run_job(exp: Experiment, job: tuple[Call, ...]) -> list:
    return [call(exp) for call in job]


def _run_remote_job(handle_and_job: tuple[ExperimentHandle, tuple[Call, ...]]) -> list:
    handle, job = handle_and_job
    return _run_job(handle.open(), job)


def map_jobs(exp: Experiment, jobs: list[list[Call]], executor: Executor | None = None) -> list[list]:
    """Run independent ``jobs`` (each a list of calls run in order) and return their results.

    In process the calls get ``exp`` itself; elsewhere each task reopens the experiment from a handle."""
    runner: Executor = executor or LocalExecutor()
    units = [tuple(job) for job in jobs if job]
    if runner.in_process:
        return runner.map(partial(_run_job, exp), units)
    handle = ExperimentHandle.of(exp)
    if exp.options.download:
        _ = exp.data  # download once here, so that workers never fetch the same files at the same time
    return runner.map(_run_remote_job, [(handle, job) for job in units])
