"""The Ray cluster a search runs on: joined at an address (given up after a bounded time when nothing answers), or a
local instance started for the run on the loopback address only; its nodes' resources checked against a trial's.

Ray (2.x) takes a new local node's address from `services.get_node_ip_address`, which returns the machine's
external address on Linux, and then its GCS, raylet, worker and driver gRPC servers listen on every interface
(the runtime-env agent on the external address). Its loopback choice (made by default on macOS and Windows,
`ray_constants.ENABLE_RAY_CLUSTER` off) is taken here for the start of a local instance, and the node's
address is checked to be the loopback one afterwards, so nothing of a local run is reachable from the network.
"""
from __future__ import annotations

import socket
import time
from contextlib import contextmanager
from typing import Iterator

from archspace.errors import ArchspaceError

JOIN_TIMEOUT_S = 10.0  # an --address that does not answer a TCP connection in this time is given up
LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1", "localhost")


def node_resources() -> list[dict[str, float]]:
    """CPU and GPU counts of every alive node of the connected Ray cluster."""
    import ray

    return [{"CPU": float(n["Resources"].get("CPU", 0)), "GPU": float(n["Resources"].get("GPU", 0))}
            for n in ray.nodes() if n.get("Alive")]


def check_resources(nodes: list[dict[str, float]], cpus: float, gpus: float) -> int:
    """How many trials can run at once; one line naming what exists when a trial fits on no node (Ray would wait forever)."""
    def describe() -> str:
        return ", ".join(f"{n['CPU']:g} CPU/{n['GPU']:g} GPU" for n in nodes) or "no alive node"

    if cpus <= 0 or gpus < 0:
        raise ArchspaceError(f"--cpus-per-trial {cpus:g} / --gpus-per-trial {gpus:g}: a trial needs > 0 CPUs and >= 0 GPUs")
    fits = [n for n in nodes if n["CPU"] >= cpus and n["GPU"] >= gpus]
    if not fits:
        what = f"--gpus-per-trial {gpus:g}" if gpus and all(n["GPU"] < gpus for n in nodes) else f"--cpus-per-trial {cpus:g}"
        raise ArchspaceError(f"{what}: no node of the Ray cluster has that many (nodes: {describe()}); ask for fewer")
    return sum(min(int(n["CPU"] // cpus), int(n["GPU"] // gpus) if gpus else 10**6) for n in fits)


def answers(address: str, timeout: float = JOIN_TIMEOUT_S) -> str | None:
    """None when HOST:PORT accepts a TCP connection within `timeout`, else why not (Ray itself retries for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        return "not HOST:PORT"
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=max(0.1, deadline - time.monotonic())):
                return None
        except OSError as err:
            if time.monotonic() >= deadline:
                return f"nothing answered there in {timeout:g} s ({err.strerror or err})"
            time.sleep(0.5)


@contextmanager
def _loopback_node() -> Iterator[None]:
    """Ray's choice of the loopback address for a new local node (see the module docstring)."""
    from unittest import mock

    from ray._private import ray_constants

    with mock.patch.object(ray_constants, "ENABLE_RAY_CLUSTER", False):
        yield


def connect(address: str | None, num_cpus: int | None) -> bool:
    """Join the cluster at `address`, reuse this process's Ray, or start a local instance on the loopback address;
    True if we started one."""
    import ray

    if ray.is_initialized():
        return False
    if address and address != "auto" and (why := answers(address)):
        raise ArchspaceError(f"--address {address}: cannot join the Ray cluster: {why}")
    try:
        if address:
            ray.init(address=address, log_to_driver=False, logging_level="ERROR")
            return False
        with _loopback_node():
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    except ConnectionError as err:
        raise ArchspaceError(f"--address {address}: cannot join the Ray cluster: {str(err).splitlines()[0]}") from None
    node = ray.util.get_node_ip_address()
    if node not in LOOPBACK:
        ray.shutdown()
        raise ArchspaceError(f"the local Ray instance took the address {node}, not the loopback one; start Ray yourself "
                             "(ray start --head --node-ip-address=127.0.0.1) and give --address")
    return True
