"""Sweeps on a real Ray cluster: a Ray head started by `ray start --head` as its own process,
joined by address with token authentication, as docs/sweeps.md tells a user to do; and the one
clear line a sweep gives when it cannot join (nothing at the address, or no token).

The head gets its own temporary folder, token and ports, and runs as ``ray start --block`` in a
process group of its own: stopping it (SIGTERM to that process, which shuts its node down, then
SIGKILL to whatever is left in its group) touches no other Ray instance on the machine.
"""

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from test_sweeps import BIN, TINY, final_line, run_folders, slsim_sweep

from simulation.layout import SWEEP_STATUS_FILE, TIMESERIES_FILE

pytest.importorskip("ray")
pytestmark = pytest.mark.slow

START_TIMEOUT_S = 240  # `ray start` on a loaded 2-core machine
STOP_TIMEOUT_S = 60
OBJECT_STORE_BYTES = 80 * 1024 * 1024  # Ray's floor is 75 MiB
# Ray's own settings a sweep or head must not inherit from the environment running the tests.
RAY_ENVIRONMENT = ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")


@dataclass
class RayHead:
    address: str
    token_path: Path
    process: subprocess.Popen

    def sweep_env(self) -> dict[str, str | None]:
        """What a sweep needs to join: token authentication on, and the cluster's token."""
        return {**dict.fromkeys(RAY_ENVIRONMENT), "RAY_AUTH_MODE": "token",
                "RAY_AUTH_TOKEN_PATH": str(self.token_path)}


def free_ports(count: int) -> list[int]:
    """Ports nothing listens on now, on any interface (held together, so they differ)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("", 0))
        return [sock.getsockname()[1] for sock in sockets]


def group_members(group: int) -> list[int]:
    """Pids of the live processes in process group ``group``."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == group and fields[0] != "Z":  # fields: state, ppid, pgrp
                members.append(int(stat.parent.name))
    return members


def stop_head(process: subprocess.Popen) -> None:
    """Stop the head this test started, and only it: SIGTERM to its `ray start --block`
    process (which drains and stops its node's processes), then SIGKILL to what remains of its
    process group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT_S)
    if group_members(process.pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=STOP_TIMEOUT_S)


@pytest.fixture(scope="module")
def ray_head():
    """A Ray head on this machine with token authentication, two CPUs and a small object store."""
    # A short path: Ray's Unix sockets live under it (at most 107 characters).
    temp_dir = Path(tempfile.mkdtemp(prefix="slsim-ray-", dir="/tmp"))
    token_path = temp_dir / "auth_token"
    token_path.write_text(secrets.token_hex(32))
    token_path.chmod(0o600)
    port, client_port, agent_port, dashboard_port = free_ports(4)
    env = {k: v for k, v in os.environ.items() if k not in RAY_ENVIRONMENT}
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token_path))
    log_path = temp_dir / "head.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [str(BIN / "ray"), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
             f"--port={port}", "--num-cpus=2", f"--object-store-memory={OBJECT_STORE_BYTES}",
             "--include-dashboard=false", f"--dashboard-port={dashboard_port}",
             f"--ray-client-server-port={client_port}",
             f"--dashboard-agent-listen-port={agent_port}", f"--temp-dir={temp_dir}",
             "--disable-usage-stats"],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while "Ray runtime started" not in log_path.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"`ray start --head` did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield RayHead(f"127.0.0.1:{port}", token_path, process)
    finally:
        stop_head(process)
        assert not group_members(process.pid), "processes of the test's Ray head are left"
        shutil.rmtree(temp_dir, ignore_errors=True)


def test_a_sweep_joins_a_ray_cluster_by_address(ray_head, tmp_path):
    out = tmp_path / "cluster"
    done = slsim_sweep(out, "seed=0,1,2", *TINY, f"hydra.launcher.ray.init.address="
                       f"{ray_head.address}", launcher="ray", env=ray_head.sweep_env())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Connected to Ray cluster" in done.stdout + done.stderr  # joined, not a local instance
    assert "3 of 3 runs succeeded (3 run now" in final_line(done)

    reference = tmp_path / "basic"
    assert slsim_sweep(reference, "seed=0,1,2", *TINY, launcher="basic").returncode == 0
    ours, theirs = run_folders(out), run_folders(reference)
    assert [d.name for d in ours] == [d.name for d in theirs]  # same config hashes
    for mine, other in zip(ours, theirs, strict=True):
        pd.testing.assert_frame_equal(pd.read_parquet(mine / TIMESERIES_FILE),
                                      pd.read_parquet(other / TIMESERIES_FILE), check_exact=True)


def test_a_sweep_without_the_token_says_it_was_refused(ray_head, tmp_path):
    """The default of a sweep joining by address: no token sent, and the head refuses it."""
    out = tmp_path / "sweep"
    started = time.monotonic()
    done = slsim_sweep(out, "seed=0,1", *TINY,
                       f"hydra.launcher.ray.init.address={ray_head.address}", launcher="ray",
                       env=dict.fromkeys(RAY_ENVIRONMENT))
    assert done.returncode == 3, done.stdout[-3000:] + done.stderr[-3000:]
    line = final_line(done)
    assert line.startswith("slsim sweep could not launch its runs: the Ray cluster at "
                           f"{ray_head.address} refused this sweep: it uses token "
                           "authentication and the sweep sent no token; set RAY_AUTH_MODE=token")
    assert "did not finish" not in line and "2 not run" in line
    status = json.loads((out / SWEEP_STATUS_FILE).read_text())
    assert status["launcher_unavailable"] and status["exit_code"] == 3
    assert time.monotonic() - started < 180


def test_a_sweep_to_a_closed_port_says_nothing_listens_there(tmp_path):
    (port,) = free_ports(1)
    out = tmp_path / "sweep"
    started = time.monotonic()
    done = slsim_sweep(out, "seed=0,1", *TINY, f"hydra.launcher.ray.init.address=127.0.0.1:{port}",
                       launcher="ray", env=dict.fromkeys(RAY_ENVIRONMENT))
    assert done.returncode == 3, done.stdout[-3000:] + done.stderr[-3000:]
    line = final_line(done)
    assert line.startswith(f"slsim sweep could not launch its runs: cannot reach the Ray "
                           f"cluster at 127.0.0.1:{port}: nothing accepts connections there "
                           "(connection refused)")
    assert "did not finish" not in line
    assert time.monotonic() - started < 60  # Ray alone would retry for minutes
