"""Versioned datasets (issue 4): push and pull through servers on 127.0.0.1 beside `cp`.

Prints figures and ratios against references measured in the same run; never asserts.

    python benchmarks/data.py                      # 20,000 files of 4-64 KiB, one 2 GB file
    python benchmarks/data.py --files 2000 --big-size 200MB   # a quick run
    python benchmarks/data.py --repush-only        # push, then re-push after 1% changed,
                                                   # in a warm process too, beside the floor
                                                   # (python + a stat a file)
    python benchmarks/data.py --lookup-only        # which of N blobs a large store holds
    python benchmarks/data.py --tidy-only          # the hash cache forgets deleted folders

What it does, all on this machine:

1. hashes 256 MB with sha256 (hashlib) and blake3, one thread and several;
2. makes a tree of ``--files`` files (4-64 KiB) and times ``cp -r`` of it;
3. starts an origin (``lablink server``) and an edge cache
   (``lablink server --upstream``) as child processes;
4. times ``lablink data add`` of the tree to the origin (push), a pull through a
   warm edge into an empty client cache, a pull of the same version into a new
   folder from the client cache, and a re-push after 1% of the files changed;
5. the same for one ``--big-size`` file against ``cp``;
6. samples the resident memory of the client and server processes throughout.

Every lablink step runs the real ``lablink`` command in a child process, so its time
includes starting Python. Files are in the page cache for ``cp`` and lablink alike,
and every timed step starts after ``sync``, so none pays for another's writes. Each
row also shows the step's kernel (system) CPU time: on an ext4 without a journal, the
kernel skips inodes freed in the last minute (five, while their inode table block is
unwritten) when it allocates new ones, so for minutes after a large delete every file
created costs up to milliseconds, and ``cp -r`` of the tree swings from 1 s to 15 s of
system time. For repeatable figures, give ``--workdir`` on a freshly made file system.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psutil

from lablink.settings import parse_size

LABLINK = [sys.executable, "-c", "from lablink.cli.main import main; main()"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Peak:
    """Peak RSS of some processes (and their children), sampled every 20 ms."""

    def __init__(self) -> None:
        self.peaks: dict[str, int] = {}
        self._procs: dict[str, psutil.Process] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def watch(self, name: str, pid: int) -> None:
        self._procs[name] = psutil.Process(pid)

    def forget(self, name: str) -> None:
        self._procs.pop(name, None)

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, proc in list(self._procs.items()):
                try:
                    rss = proc.memory_info().rss
                except psutil.Error:
                    continue
                self.peaks[name] = max(self.peaks.get(name, 0), rss)
            time.sleep(0.02)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class Step:
    """Wall-clock and kernel CPU seconds of one child process."""

    def __init__(self) -> None:
        os.sync()  # every step starts with no dirty pages waiting to be written back
        self._sys = resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime
        self._started = time.perf_counter()

    def done(self) -> tuple[float, float]:
        seconds = time.perf_counter() - self._started
        return seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime - self._sys


def timed_client(args: list[str], env: dict[str, str], peak: Peak) -> tuple[float, float]:
    """Run ``lablink ARGS`` as a child, watching its memory; returns (seconds, sys)."""
    step = Step()
    proc = subprocess.Popen(
        [*LABLINK, *args],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    peak.watch("client", proc.pid)
    _, err = proc.communicate()
    took = step.done()
    peak.forget("client")
    if proc.returncode != 0:
        raise SystemExit(f"lablink {' '.join(args)} failed:\n{err.decode()[-2000:]}")
    return took


def timed(command: list[str]) -> tuple[float, float]:
    step = Step()
    subprocess.run(command, check=True)
    return step.done()


def start_server(args: list[str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [*LABLINK, "server", "--port", str(port), *args], stdout=sink, stderr=sink
        )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not start: {log.read_text()[-1000:]}")


def make_tree(root: Path, files: int, seed: int = 1) -> int:
    rng = random.Random(seed)
    total = 0
    for i in range(files):
        folder = root / f"d{i // 200:03d}"
        if i % 200 == 0:
            folder.mkdir(parents=True)
        size = rng.randint(4 * 1024, 64 * 1024)
        (folder / f"f{i:06d}.bin").write_bytes(os.urandom(size))
        total += size
    old = time.time() - 60  # written "a minute ago", as a real dataset would be
    for path in root.rglob("*.bin"):
        os.utime(path, (old, old))
    return total


def make_big(path: Path, size: int) -> None:
    block = os.urandom(16 * 1024 * 1024)
    with path.open("wb") as out:
        left = size
        while left:
            out.write(block[: min(left, len(block))])
            left -= min(left, len(block))
            block = block[1:] + block[:1]  # distinct blocks, cheaply


def hash_speeds() -> list[tuple[str, float]]:
    import blake3

    data = os.urandom(256 * 1024 * 1024)
    out = []
    for name, fn in (
        ("sha256 (hashlib, 1 thread)", lambda: hashlib.sha256(data).digest()),
        ("blake3 (1 thread)", lambda: blake3.blake3(data).digest()),
        (
            "blake3 (all cores)",
            lambda: blake3.blake3(data, max_threads=blake3.blake3.AUTO).digest(),
        ),
    ):
        started = time.perf_counter()
        fn()
        out.append((name, len(data) / (time.perf_counter() - started) / 1e9))
    return out


def row(name: str, took: tuple[float, float], ref: float | None, target: str) -> None:
    seconds, kernel = took
    ratio = f"{seconds / ref:5.2f}x" if ref else "      "
    print(f"  {name:<46} {seconds:8.2f} s  {ratio}   (sys {kernel:5.2f} s)   {target}")


def change_files(tree: Path, files: int, seed: int) -> None:
    """Rewrite 1% of the files with new content of the same size."""
    rng = random.Random(seed)
    for path in rng.sample(sorted(tree.rglob("*.bin")), max(1, files // 100)):
        path.write_bytes(os.urandom(path.stat().st_size))


class Cpu:
    """CPU seconds (user + system) of the client children and of a server process.

    On a shared machine the wall clock measures the other tenants as much as lablink;
    CPU time is steadier, so each step shows both.
    """

    def __init__(self, server: psutil.Process) -> None:
        self._server = server
        self._client = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._origin = server.cpu_times()

    def done(self) -> tuple[float, float]:
        now, origin = resource.getrusage(resource.RUSAGE_CHILDREN), self._server.cpu_times()
        client = now.ru_utime - self._client.ru_utime + now.ru_stime - self._client.ru_stime
        return client, origin.user - self._origin.user + origin.system - self._origin.system


def cpu_text(cpu: tuple[float, float], ref: tuple[float, float] | None = None) -> str:
    text = f"cpu client {cpu[0]:5.2f} s + server {cpu[1]:5.2f} s"
    return text + (f" = {sum(cpu) / sum(ref):5.1%} of the push's" if ref else "")


# The least a re-push must do on the client: start Python and stat every file (to
# see which changed), with no lablink import. Its CPU beside the push's is the floor
# of the re-push's share of a push.
FLOOR = """
import os, sys
stack, found = [sys.argv[1]], 0
while stack:
    with os.scandir(stack.pop()) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            else:
                entry.stat(follow_symlinks=False)
                found += 1
"""


# A re-push without starting Python: the SDK's ``add`` in a process that has imported
# it and pushed once, the tree changed between two calls. What a resident process
# (an agent kept running between pushes) could save at most.
WARM = """
import json, os, random, sys, time
import psutil
from lablink.sdk.data import add
from lablink.settings import Settings
tree, seed, server = sys.argv[1], int(sys.argv[2]), psutil.Process(int(sys.argv[3]))
settings = Settings.load()
add(tree, "tree", settings=settings)
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(tree) for f in fs)
for path in random.Random(seed).sample(files, max(1, len(files) // 100)):
    with open(path, "r+b") as fh:
        fh.write(os.urandom(os.path.getsize(path)))
served = sum(server.cpu_times()[:2])
wall, cpu = time.perf_counter(), time.process_time()
add(tree, "tree", settings=settings)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps([wall, cpu, sum(server.cpu_times()[:2]) - served]))
"""


def repush_only(args: argparse.Namespace) -> None:
    """Push a tree, then re-push it after 1% of its files changed, ``--repeat`` times."""
    work = Path(args.workdir or tempfile.mkdtemp(prefix="lablink-bench-data-"))
    work.mkdir(parents=True, exist_ok=True)
    peak = Peak()
    origin = None
    try:
        tree = work / "tree"
        total = make_tree(tree, args.files)
        print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; {work}")
        print(f"tree: {args.files} files, {total / 1e6:.0f} MB")
        cp_tree = timed(["cp", "-r", str(tree), str(work / "tree-copy")])
        env = {"PYTHONDONTWRITEBYTECODE": ""}  # start-up as installed: with .pyc files
        timed_client(["--help"], env, peak)  # warm
        helps = [timed_client(["--help"], env, peak) for _ in range(3)]
        origin, url = start_server(["--home", str(work / "origin")], work / "origin.log")
        env |= {"LABLINK_SERVER": url, "LABLINK_HOME": str(work / "a")}
        add = ["data", "add", str(tree), "--name", "tree"]
        server = psutil.Process(origin.pid)
        cpu = Cpu(server)
        push = timed_client(add, env, peak)
        push_cpu = cpu.done()
        repushes = []
        for i in range(args.repeat):
            change_files(tree, args.files, 2 + i)
            cpu = Cpu(server)
            took = timed_client(add, env, peak)
            repushes.append((took, cpu.done()))
        warm = []
        for i in range(args.repeat):
            out = subprocess.run(
                [sys.executable, "-c", WARM, str(tree), str(100 + i), str(origin.pid)],
                env={**os.environ, **env},
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            warm.append(tuple(json.loads(out.strip().splitlines()[-1])))
        floors = []
        for _ in range(3):
            cpu = Cpu(server)
            took = timed([sys.executable, "-S", "-c", FLOOR, str(tree)])
            floors.append((took, cpu.done()))
        print(f"\n{args.files}-file tree (reference: cp -r {cp_tree[0]:.2f} s)")
        row("cp -r", cp_tree, cp_tree[0], "reference")
        row("lablink --help (start-up floor)", min(helps), None, "")
        row("push (lablink data add)", push, cp_tree[0], cpu_text(push_cpu))
        for took, used in repushes:
            row("re-push after 1% of the files changed", took, push[0], cpu_text(used, push_cpu))
        median = sorted(t for t, _ in repushes)[len(repushes) // 2]
        row("re-push, median", median, push[0], "target <= 5% of push")
        cpu_median = sorted(sum(c) for _, c in repushes)[len(repushes) // 2]
        wall, client_cpu, server_cpu = sorted(warm)[len(warm) // 2]
        print(
            f"  {'re-push in a warm process (no start-up), median':<46} {wall:8.2f} s  "
            f"{wall / push[0]:5.2f}x   " + cpu_text((client_cpu, server_cpu), push_cpu)
        )
        floor = min(floors, key=lambda f: f[1][0])
        row("floor: python -S, stat every file", floor[0], push[0], cpu_text(floor[1], push_cpu))
        print(
            f"  re-push CPU, median: {cpu_median:.2f} s = {cpu_median / sum(push_cpu):.1%} "
            f"of the push's {sum(push_cpu):.2f} s (floor {sum(floor[1]) / sum(push_cpu):.1%})"
        )
    finally:
        peak.stop()
        if origin is not None:
            origin.terminate()
            origin.wait(10)
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


def lookup_only(args: argparse.Namespace) -> None:
    """Which of a few thousand digests a store of ``--store-blobs`` blobs holds, as a
    commit and ``/data/missing`` ask: folder listings against a stat per digest."""
    from lablink.store import blobs as blobs_module
    from lablink.store.blobs import BlobStore, bytes_digest

    work = Path(args.workdir or tempfile.mkdtemp(prefix="lablink-bench-data-"))
    try:
        store = BlobStore(str(work / "blobs"))
        stored = [store.put_bytes(b"%d" % i, "blake3")[0] for i in range(args.store_blobs)]
        print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
        print(f"store: {args.store_blobs} blobs")
        for asked in (2_500, 10_000, 50_000):
            if asked > args.store_blobs:
                continue
            wanted = stored[:: args.store_blobs // asked][: asked - 10]
            wanted += [bytes_digest(b"absent %d" % i, "blake3") for i in range(10)]
            times = {}
            for label, ratio in (("listing every folder", 10**9), ("lablink", None)):
                if ratio is not None:
                    saved, blobs_module.NAMES_PER_LOOKUP = blobs_module.NAMES_PER_LOOKUP, ratio
                best = min(_timed_call(functools.partial(store.existing, wanted)) for _ in range(5))
                if ratio is not None:
                    blobs_module.NAMES_PER_LOOKUP = saved
                times[label] = best
            lablink, listing = times["lablink"], times["listing every folder"]
            print(
                f"  {asked:>6} digests: lablink {lablink * 1e3:7.1f} ms, "
                f"listing every folder {listing * 1e3:7.1f} ms ({listing / lablink:4.1f}x)"
            )
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


def tidy_only(args: argparse.Namespace) -> None:
    """``lablink data cache --tidy`` over a hash cache of ``--tidy-rows`` files in
    folders of 100, half of the folders deleted, beside one ``lexists`` per row."""
    from lablink.sdk.scan import HashCache

    work = Path(args.workdir or tempfile.mkdtemp(prefix="lablink-bench-data-"))
    try:
        hashes = HashCache(work / "hashes.db")
        paths: list[str] = []
        for d in range(args.tidy_rows // 100):
            folder = work / "tree" / f"d{d:05d}"
            folder.mkdir(parents=True)
            for f in range(100):
                (folder / f"f{f:03d}.bin").touch()
                paths.append(str(folder / f"f{f:03d}.bin"))
        hashes.store([(p, (0, 0, 0), "blake3:" + "0" * 64, 0) for p in paths])
        for d in range(0, args.tidy_rows // 100, 2):
            shutil.rmtree(work / "tree" / f"d{d:05d}")
        print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
        forgotten = 0

        def tidy() -> None:
            nonlocal forgotten
            forgotten = hashes.forget_gone()

        took = _timed_call(tidy)
        reference = _timed_call(lambda: [os.path.lexists(p) for p in paths])
        hashes.close()
        print(
            f"tidy {len(paths):,} rows in {len(paths) // 100:,} folders, half deleted: "
            f"{took * 1e3:.0f} ms ({forgotten:,} forgotten); "
            f"a lexists per row, deleting nothing: {reference * 1e3:.0f} ms "
            f"({took / reference:.2f}x)"
        )
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


def _timed_call(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--big-size", default="2GB")
    parser.add_argument("--workdir", default=None, help="where to work (default: a temp dir)")
    parser.add_argument(
        "--repush-only",
        action="store_true",
        help="only the push and the re-push after 1%% changed, beside cp and `lablink --help`",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="re-push rounds with --repush-only (median)"
    )
    parser.add_argument(
        "--lookup-only",
        action="store_true",
        help="only which of a few thousand digests a store of --store-blobs blobs holds",
    )
    parser.add_argument("--store-blobs", type=int, default=200_000)
    parser.add_argument(
        "--tidy-only",
        action="store_true",
        help="only the hash cache forgetting deleted folders, over --tidy-rows rows",
    )
    parser.add_argument("--tidy-rows", type=int, default=200_000)
    args = parser.parse_args()
    if args.tidy_only:
        tidy_only(args)
        return
    if args.lookup_only:
        lookup_only(args)
        return
    if args.repush_only:
        repush_only(args)
        return
    big_size = parse_size(args.big_size)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="lablink-bench-data-"))
    work.mkdir(parents=True, exist_ok=True)
    peak = Peak()
    servers: list[subprocess.Popen[bytes]] = []
    try:
        print(f"machine: {os.cpu_count()} cores; work folder {work}")
        print("\nhash throughput (GB/s), 256 MB in memory:")
        for name, speed in hash_speeds():
            print(f"  {name:<30} {speed:6.2f}")

        tree = work / "tree"
        total = make_tree(tree, args.files)
        print(f"\ntree: {args.files} files, {total / 1e6:.0f} MB")
        cp_tree = timed(["cp", "-r", str(tree), str(work / "tree-copy")])

        origin, origin_url = start_server(["--home", str(work / "origin")], work / "origin.log")
        servers.append(origin)
        edge, edge_url = start_server(
            ["--home", str(work / "edge"), "--upstream", origin_url, "--cache-size", "50GB"],
            work / "edge.log",
        )
        servers.append(edge)
        peak.watch("origin", origin.pid)
        peak.watch("edge", edge.pid)

        def client(name: str) -> dict[str, str]:
            return {
                "LABLINK_SERVER": origin_url,
                "LABLINK_HOME": str(work / name),
                "LABLINK_DATA_ENDPOINTS": f"{edge_url},{origin_url}",
            }

        push = timed_client(["data", "add", str(tree), "--name", "tree"], client("a"), peak)
        # warm the edge with another client, then pull with an empty client cache
        timed_client(["data", "pull", "tree", "--to", str(work / "warm")], client("w"), peak)
        pull = timed_client(["data", "pull", "tree", "--to", str(work / "pull")], client("b"), peak)
        cached = timed_client(
            ["data", "pull", "tree", "--to", str(work / "again")], client("b"), peak
        )
        change_files(tree, args.files, 2)
        repush = timed_client(["data", "add", str(tree), "--name", "tree"], client("a"), peak)

        print(f"\n{args.files}-file tree (reference: cp -r {cp_tree[0]:.2f} s)")
        row("cp -r", cp_tree, cp_tree[0], "reference")
        row("push (lablink data add)", push, cp_tree[0], "target <= 1.5x cp")
        row("pull from a warm edge, empty client cache", pull, cp_tree[0], "target <= 1.5x cp")
        row("pull a cached version into a new folder", cached, None, "target <= 2 s")
        row("re-push after 1% of the files changed", repush, push[0], "target <= 5% of push")

        big = work / "big.bin"
        make_big(big, big_size)
        cp_big = timed(["cp", str(big), str(work / "big-copy.bin")])
        bigpush = timed_client(["data", "add", str(big), "--name", "big"], client("a"), peak)
        bigpull = timed_client(
            ["data", "pull", "big", "--to", str(work / "big-pull")], client("c"), peak
        )
        print(f"\none {big_size / 1e9:.2f} GB file (reference: cp {cp_big[0]:.2f} s)")
        row("cp", cp_big, cp_big[0], "reference")
        row("push (lablink data add)", bigpush, cp_big[0], "target <= 3x cp")
        row("pull from the origin, empty client cache", bigpull, cp_big[0], "target <= 2x cp")

        print("\npeak resident memory (target <= 200 MB each):")
        for name, rss in sorted(peak.peaks.items()):
            print(f"  {name:<10} {rss / 1e6:7.0f} MB")
    finally:
        peak.stop()
        for proc in servers:
            proc.terminate()
            proc.wait(10)
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
