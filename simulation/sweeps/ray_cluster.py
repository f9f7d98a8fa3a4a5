"""Joining a Ray cluster (``hydra/launcher=ray``): when a sweep cannot, say why in one line.

Left alone, Ray retries a wrong address for minutes and an authentication refusal for about 20
seconds, logging warnings, and the launcher then fails with ``Failed to connect to Ray cluster``:
the sweep would only report its runs as not finished. Here:

* :func:`check_reachable` tries a plain TCP connection to the cluster's address first (a few
  seconds at most), so a wrong address or a head that is not running is named at once;
* :func:`explain_failure` turns a failure of Ray to join (or to start a local instance) into a
  sentence naming the address and the likely cause: token authentication first of all.

Current Ray versions (2.60 here) authenticate with a token (``RAY_AUTH_MODE=token``).
``ray start --head`` turns it on by itself when it finds a token (``RAY_AUTH_TOKEN``, the file
``RAY_AUTH_TOKEN_PATH`` names, or ``~/.ray/auth_token``, which any local ``ray.init()``
creates), but a process that joins a cluster by address never does (``ray/_private/worker.py``,
``ray/scripts/scripts.py``): the sweep then needs ``RAY_AUTH_MODE=token`` and the cluster's
token. docs/sweeps.md, "Ray clusters", gives the steps.
"""

import os
import socket
from collections.abc import Callable
from typing import Any

from .engine import LauncherUnavailable

CONNECT_TIMEOUT_S = 5.0
AUTH_MODE_ENV = "RAY_AUTH_MODE"
TOKEN_SOURCES = "RAY_AUTH_TOKEN, the file RAY_AUTH_TOKEN_PATH names, or ~/.ray/auth_token"
GUIDE = "docs/sweeps.md, 'Ray clusters'"


def is_ray(launcher_config: Any) -> bool:
    """Whether a ``hydra.launcher`` config is Hydra's Ray launcher."""
    return str(launcher_config.get("_target_", "")).endswith(".RayLauncher")


def cluster_address(launcher_config: Any) -> str | None:
    """The cluster a Ray launcher config joins (``ray.init.address``, else ``RAY_ADDRESS``), or
    None for a local instance."""
    ray_config = launcher_config.get("ray") or {}
    address = (ray_config.get("init") or {}).get("address") or os.environ.get("RAY_ADDRESS")
    return None if address in (None, "", "local") else str(address)


def _host_port(address: str) -> tuple[str, int] | None:
    """``HOST:PORT`` (or ``ray://HOST:PORT``, ``[IPv6]:PORT``) split; None for ``auto``."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Raise :class:`LauncherUnavailable` if nothing accepts connections at ``address``."""
    target = _host_port(address)
    if target is None:
        return  # "auto": Ray finds the cluster itself
    host, port = target
    try:
        socket.create_connection(target, timeout=timeout).close()
        return
    except ConnectionRefusedError:
        cause = (f"nothing accepts connections there (connection refused): check that its head "
                 f"is running (`ray start --head --port={port}` on {host}) and that "
                 f"hydra.launcher.ray.init.address is right")
    except TimeoutError:
        cause = (f"no answer within {timeout:g} s: check that {host} is the head node and that "
                 f"no firewall blocks port {port}")
    except socket.gaierror:
        cause = f"the host name {host!r} cannot be resolved"
    except OSError as exc:
        cause = exc.strerror or str(exc)
    raise LauncherUnavailable(f"cannot reach the Ray cluster at {address}: {cause}")


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from, outermost first."""
    chain = [exc]
    while chain[-1].__cause__ is not None and len(chain) < 10:
        chain.append(chain[-1].__cause__)
    return chain


def explain_failure(launcher_config: Any, exc: BaseException) -> str | None:
    """Why the Ray launcher could not join its cluster (or start a local instance), naming the
    address and the likely cause; None if Ray is up and ``exc`` came from the runs."""
    import ray

    if ray.is_initialized():
        return None
    address = cluster_address(launcher_config)
    where = f"the Ray cluster at {address}" if address else "a local Ray instance"
    chain = _chain(exc)
    text = "\n".join(str(e) for e in chain)
    if "no authentication token was found" in text:
        return (f"cannot join {where}: {AUTH_MODE_ENV}=token is set but this machine has no "
                f"token; give it the cluster's token ({TOKEN_SOURCES}); see {GUIDE}")
    refused = isinstance(chain[-1], ray.exceptions.AuthenticationError) \
        or "InvalidAuthToken" in text or "AuthenticationError" in text
    if refused and os.environ.get(AUTH_MODE_ENV, "").lower() != "token":
        return (f"{where} refused this sweep: it uses token authentication and the sweep sent "
                f"no token; set {AUTH_MODE_ENV}=token and give it the cluster's token "
                f"({TOKEN_SOURCES}); see {GUIDE}")
    if refused:
        return (f"{where} refused this sweep's token: the first of {TOKEN_SOURCES} found here "
                f"is not the cluster's token; see {GUIDE}")
    deepest = next((line.strip() for line in str(chain[-1]).splitlines() if line.strip()),
                   type(chain[-1]).__name__)
    action = "join" if address else "start"
    return f"cannot {action} {where}: {deepest}"


def guarded_launch(launcher_config: Any, launch: Callable[..., Any],
                   job_overrides: list[list[str]], first_index: int) -> Any:
    """``launch(job_overrides, initial_job_idx=first_index)`` with the checks above around it:
    raises :class:`LauncherUnavailable` with a clear reason when Ray cannot be reached."""
    address = cluster_address(launcher_config)
    if address is not None:
        check_reachable(address)
    try:
        return launch(job_overrides, initial_job_idx=first_index)
    except Exception as exc:
        reason = explain_failure(launcher_config, exc)
        if reason is None:
            raise
        raise LauncherUnavailable(reason) from exc
