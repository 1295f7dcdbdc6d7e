"""Where independent units of a sweep run: in this process, in local worker processes, or on Ray.

An executor has one job: ``map(fn, units)`` returns ``[fn(u) for u in units]`` in order, however the
calls are spread out. Units must be independent (no unit reads what another writes). For anything
but the in-process executor, ``fn`` must be a module-level function and each unit picklable.

Executors are context managers: leaving one releases its worker processes (or disconnects from Ray
if it connected). Ray is an optional extra: only :class:`RayExecutor` imports it.
"""

import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Protocol, TypeVar

import torch

from .errors import LotteryError, UsageError

T = TypeVar("T")
R = TypeVar("R")

EXECUTORS = ("local", "ray")


class Executor(Protocol):
    in_process: bool  # units run in the caller's process (they may share objects, progress bars work)
    parallelism: int | None  # units that run at the same time (None: as many as the cluster fits)

    def map(self, fn: Callable[[T], R], units: Iterable[T]) -> list[R]: ...

    def __enter__(self) -> "Executor": ...

    def __exit__(self, *exc) -> None: ...


class LocalExecutor:
    """``workers=1``: one unit after another in this process (the default; needs nothing extra).
    ``workers>1``: that many fresh worker processes on this machine, torch threads split among them."""

    def __init__(self, workers: int = 1):
        if workers < 1:
            raise UsageError(f"--workers must be positive, got {workers}")
        self.workers = workers
        self.in_process = workers == 1
        self.parallelism: int | None = workers
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> "LocalExecutor":
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def map(self, fn: Callable[[T], R], units: Iterable[T]) -> list[R]:
        units = list(units)
        if self.in_process or len(units) <= 1:
            return [fn(u) for u in units]
        if self._pool is None:
            # spawn, not fork: forking a process that already ran torch can deadlock in its thread pools.
            threads = max(1, torch.get_num_threads() // self.workers)
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=get_context("spawn"), initializer=start_worker, initargs=(threads, os.getpid())
            )
        return list(self._pool.map(fn, units))


def start_worker(threads: int, driver: int) -> None:
    """Set up a local worker process: its share of torch threads, and a watch on the driver."""
    torch.set_num_threads(threads)
    threading.Thread(target=exit_when_orphaned, args=(driver,), daemon=True, name="lottery-driver-watch").start()


def exit_when_orphaned(driver: int, every: float = 0.2) -> None:
    """Stop this worker as soon as the driver that started it is gone (killed, even with SIGKILL).
    The driver holds the experiment's lock for its workers: without it, an orphaned worker would
    keep writing into the experiment while a new run of the same command trains the same levels."""
    while os.getppid() == driver:
        time.sleep(every)
    os._exit(1)


class RayExecutor:
    """Each unit is one Ray task. ``address``: a running cluster ("auto", "ray://head:10001", ...) or
    None to start a local Ray instance. ``max_in_flight`` caps how many tasks are submitted at once
    (None: all; Ray queues what the cluster cannot fit). Each task asks for ``num_cpus`` CPUs and
    ``num_gpus`` GPUs; Ray sets CUDA_VISIBLE_DEVICES so that "cuda" in a task is its own GPU."""

    in_process = False

    def __init__(
        self, address: str | None = None, *, num_cpus: float = 1, num_gpus: float = 0, max_in_flight: int | None = None
    ):
        try:
            import ray
        except ImportError:
            raise UsageError("--executor ray needs Ray: pip install 'lottery[ray]'") from None
        if max_in_flight is not None and max_in_flight < 1:
            raise UsageError(f"--workers must be positive, got {max_in_flight}")
        self._ray = ray
        self.address, self.num_cpus, self.num_gpus, self.max_in_flight = address, num_cpus, num_gpus, max_in_flight
        self.parallelism = max_in_flight
        self._started = False

    def __enter__(self) -> "RayExecutor":
        if not self._ray.is_initialized():
            check_reachable(self.address)
            try:
                self._ray.init(address=self.address, include_dashboard=False)
            except (ConnectionError, ValueError, RuntimeError) as e:
                where = self.address or "a new local instance"
                raise LotteryError(f"cannot connect to Ray at {where}: {str(e).splitlines()[0]}") from None
            self._started = True
        return self

    def __exit__(self, *exc) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False

    def map(self, fn: Callable[[T], R], units: Iterable[T]) -> list[R]:
        ray = self._ray
        if not ray.is_initialized():
            raise LotteryError("RayExecutor.map called outside its `with` block")
        task = ray.remote(fn).options(num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_retries=0)
        units = list(units)
        limit = self.max_in_flight or len(units)
        refs: list = []
        pending: list = []
        try:
            for unit in units:
                if len(pending) >= limit:  # wait for one to finish before submitting another
                    _, pending = ray.wait(pending, num_returns=1)
                ref = task.remote(unit)
                refs.append(ref)
                pending.append(ref)
            return ray.get(refs)
        except ray.exceptions.RayTaskError as e:
            for ref in refs:
                ray.cancel(ref)
            # A LotteryError raised in a task reaches the user as itself: one line, no remote traceback.
            if isinstance(e.cause, LotteryError):
                raise e.cause from None
            raise
        except BaseException:
            for ref in refs:
                ray.cancel(ref)
            raise


def check_reachable(address: str | None, timeout: float = 5.0) -> None:
    """Fail fast on a "host:port" nobody listens at: ray.init itself retries such an address for minutes."""
    if address is None or address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--address {address!r} is not 'auto', 'host:port' or 'ray://host:port'")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise LotteryError(
            f"no Ray cluster answers at {address} ({e.strerror or e}); start one with "
            "`ray start --head` or check the address"
        ) from None


def make_executor(
    kind: str = "local", *, workers: int | None = None, address: str | None = None, device: str = "cpu"
) -> Executor:
    """The executor the command line asks for. ``device``: where units train; "cuda" gives each
    Ray task one GPU of its own."""
    if kind == "local":
        if address is not None:
            raise UsageError("--address only applies to --executor ray")
        return LocalExecutor(1 if workers is None else workers)
    if kind == "ray":
        gpus = 1 if str(device).startswith("cuda") else 0
        return RayExecutor(address, num_gpus=gpus, max_in_flight=workers)
    raise UsageError(f"unknown executor {kind!r}; choose one of: {', '.join(EXECUTORS)}")
