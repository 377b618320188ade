"""Several USER Studio replicas on one store behind HAProxy, for the tests of issue 22.

    with ReplicaCluster(postgres_url, n=3, models_dir=tmp / "models", model=tiny_model_dir) as cluster:
        cluster.url               # HAProxy's address: what a browser or a client uses
        cluster.replica_urls      # each replica's own address
        cluster.kill(1)           # SIGKILL replica 1 (its whole process group)

Each replica is ``python app.py --host 127.0.0.1 --port P --store URL --models-dir D --data-dir <own>``
with one ``USER_STUDIO_SECRET`` for all, started in its own process group (``start_new_session``), so a
stop or a kill takes whatever it started too; :meth:`ReplicaCluster.stop` (also run by ``with`` and at
exit) leaves no process behind. HAProxy runs ``deploy/haproxy.cfg`` itself, rendered with the test's
ports by :func:`render_haproxy_config`, in the foreground (``-db``) as a child process.
"""

from __future__ import annotations

import atexit
import contextlib
import csv
import io
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.app_server import ROOT, free_port

DEPLOY_CFG = ROOT / "deploy" / "haproxy.cfg"
# The app's health route, which the replicas are waited on and HAProxy checks (deploy/haproxy.cfg).
HEALTH_PATH = "/health"

# argv of one replica from its port, its own data folder and its index (the default runs app.py).
Command = Callable[[int, Path, int], Sequence[str]]


def haproxy_binary() -> str | None:
    """HAProxy's program (Debian puts it in /usr/sbin, which a non-root PATH may lack); None without it."""
    found = shutil.which("haproxy")
    if found:
        return found
    return "/usr/sbin/haproxy" if os.access("/usr/sbin/haproxy", os.X_OK) else None


def render_haproxy_config(backend_ports: Sequence[int], frontend_port: int, *, stats_socket: Path | str,
                          health_path: str = HEALTH_PATH, host: str = "127.0.0.1",
                          template: Path = DEPLOY_CFG) -> str:
    """``deploy/haproxy.cfg`` with the frontend on ``host:frontend_port`` and one server per backend port.

    Only four kinds of line change: the frontend's ``bind``, the ``server`` lines (made again from the
    first one's options: app1, app2... with their cookies), the ``stats socket`` path and the health
    check's ``uri``. The timeouts, stickiness and checks are the deployed file's own, so the tests test it.
    """
    if not backend_ports:
        raise ValueError("at least one backend port is needed")
    lines = template.read_text().splitlines()
    out: list[str] = []
    servers_written = False
    found = {"bind": False, "server": False, "stats socket": False, "uri": False}
    for line in lines:
        stripped = line.strip()
        indent = line[: len(line) - len(line.lstrip())]
        words = stripped.split()
        if words[:1] == ["bind"]:
            out.append(f"{indent}bind {host}:{frontend_port}")
            found["bind"] = True
        elif words[:2] == ["stats", "socket"]:
            out.append(f"{indent}stats socket {stats_socket} {' '.join(words[3:])}".rstrip())
            found["stats socket"] = True
        elif words[:1] == ["server"]:
            found["server"] = True
            if servers_written:
                continue
            # server NAME ADDRESS cookie VALUE [options]: keep the options, one line per port.
            options = words[3:]
            if "cookie" in options:
                at = options.index("cookie")
                del options[at:at + 2]
            for number, port in enumerate(backend_ports, start=1):
                out.append(f"{indent}server app{number} {host}:{port} cookie app{number} {' '.join(options)}".rstrip())
            servers_written = True
        elif words[:2] == ["http-check", "send"] and "uri" in words:
            at = words.index("uri")
            words[at + 1] = health_path
            out.append(indent + " ".join(words))
            found["uri"] = True
        else:
            out.append(line)
    missing = [name for name, seen in found.items() if not seen]
    if missing:
        raise ValueError(f"{template} has no {', '.join(missing)} line to fill in")
    return "\n".join(out) + "\n"


def _get(url: str, timeout_s: float = 2.0) -> int | None:
    """The HTTP status of a GET, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 (local URL)
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (OSError, ValueError):
        return None


def _stop_group(process: subprocess.Popen, grace_s: float = 5.0) -> None:
    """SIGTERM the process group ``process`` leads, SIGKILL it after ``grace_s``, and reap the leader."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace_s)
    # Children of the leader (a training job, a worker) may outlive it: the group goes in any case.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)


def _log_tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


class HAProxy:
    """``haproxy -f <rendered deploy/haproxy.cfg> -db`` as a child process, with its admin socket."""

    def __init__(self, backend_ports: Sequence[int], workdir: Path, frontend_port: int = 0,
                 health_path: str = HEALTH_PATH, template: Path = DEPLOY_CFG) -> None:
        self.backend_ports = list(backend_ports)
        self.workdir = Path(workdir)
        self.frontend_port = frontend_port
        self.health_path = health_path
        self.template = template
        self.process: subprocess.Popen | None = None
        self.start_seconds: float | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.frontend_port}/"

    @property
    def socket_path(self) -> Path:
        return self.workdir / "haproxy.sock"

    def start(self, timeout_s: float = 20.0) -> HAProxy:
        binary = haproxy_binary()
        if binary is None:
            raise RuntimeError("haproxy is not installed (make services installs it)")
        began = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.frontend_port = self.frontend_port or free_port()
        config = self.workdir / "haproxy.cfg"
        config.write_text(render_haproxy_config(self.backend_ports, self.frontend_port,
                                                stats_socket=self.socket_path, health_path=self.health_path,
                                                template=self.template))
        log = open(self.workdir / "haproxy.log", "wb")  # noqa: SIM115 (the child writes it until stop)
        self.process = subprocess.Popen([binary, "-f", str(config), "-db"], stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"haproxy exited with {self.process.returncode}: "
                                   f"{_log_tail(self.workdir / 'haproxy.log')}")
            if self.socket_path.exists() and self._answers():
                self.start_seconds = time.monotonic() - began
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"haproxy did not listen within {timeout_s:g} s")

    def _answers(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.frontend_port), timeout=1):
            return True
        return False

    def command(self, line: str) -> str:
        """One command on HAProxy's admin socket (``show stat``, ``disable server replicas/app1``...)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(self.socket_path))
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def server_states(self) -> dict[str, str]:
        """Each backend server's check state as HAProxy sees it: {"app1": "UP", "app2": "DOWN", ...}."""
        text = self.command("show stat").lstrip("# ")
        rows = csv.DictReader(io.StringIO(text))
        return {row["svname"]: row["status"] for row in rows
                if row.get("pxname") == "replicas" and row["svname"] not in ("FRONTEND", "BACKEND")}

    def wait_states(self, wanted: dict[str, str], timeout_s: float = 30.0) -> None:
        """Wait until the named servers are in the wanted states ("UP", "DOWN"; a prefix is enough)."""
        deadline = time.monotonic() + timeout_s
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            states = self.server_states()
            if all(states.get(name, "").startswith(state) for name, state in wanted.items()):
                return
            time.sleep(0.05)
        raise RuntimeError(f"HAProxy's servers are {states}, not {wanted}, after {timeout_s:g} s")

    def stop(self) -> None:
        if self.process is not None:
            _stop_group(self.process)
            self.process = None
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)


@dataclass
class Replica:
    """One app process: its port, its own data folder, its log and its process (None once stopped)."""

    index: int
    port: int
    data_dir: Path
    log: Path
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class ReplicaCluster:
    """``n`` app replicas on ``store_url`` behind HAProxy; :meth:`start`, :meth:`kill`, :meth:`stop`.

    ``models_dir`` is shared by every replica (tuned versions); each replica has its own ``--data-dir``
    (exports, caches). ``model`` is the encoder every replica loads (the tests' tiny DeBERTa folder, or
    None for the app's default chain); ``env`` is added to the replicas' environment; ``command`` replaces
    the app (argv from port, data folder and index: the proxy's own tests run trivial servers). All
    replicas share ``secret`` (USER_STUDIO_SECRET), a random one unless given.
    """

    def __init__(self, store_url: str | None, n: int = 3, models_dir: Path | str | None = None,
                 env: dict[str, str] | None = None, *, model: Path | str | None = None,
                 workdir: Path | str | None = None, command: Command | None = None,
                 secret: str | None = None, health_path: str = HEALTH_PATH,
                 extra_args: Sequence[str] = (), start_timeout_s: float = 180.0) -> None:
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        self.store_url = store_url
        self.n = n
        self.models_dir = Path(models_dir) if models_dir is not None else None
        self.env = dict(env or {})
        self.model = model
        self.workdir = Path(workdir) if workdir is not None else None
        self.command = command
        self.secret = secret or secrets.token_urlsafe(32)
        self.health_path = health_path
        self.extra_args = list(extra_args)
        self.start_timeout_s = start_timeout_s
        self.replicas: list[Replica] = []
        self.proxy: HAProxy | None = None
        self._own_workdir = False

    @property
    def url(self) -> str:
        if self.proxy is None:
            raise RuntimeError("the cluster is not started")
        return self.proxy.url

    @property
    def replica_urls(self) -> list[str]:
        return [replica.url for replica in self.replicas]

    def app_command(self, port: int, data_dir: Path, index: int) -> list[str]:
        """``python app.py`` for one replica: loopback only, the shared store and models, its own data."""
        if self.store_url is None or self.models_dir is None:
            raise ValueError("the app's replicas need store_url and models_dir")
        argv = [sys.executable, str(ROOT / "app.py"), "--host", "127.0.0.1", "--port", str(port),
                "--store", self.store_url, "--models-dir", str(self.models_dir), "--data-dir", str(data_dir),
                "--device", "cpu", "--dtype", "float32",
                # Every test client (and HAProxy's X-Forwarded-For) is 127.0.0.1: no per-address limit.
                "--new-identities-per-hour", "1000000"]
        if self.model is not None:
            argv += ["--model", str(self.model)]
        return argv + self.extra_args

    def replica_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"USER_STUDIO_SECRET": self.secret, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
                    "PYTHONUNBUFFERED": "1",
                    # Three replicas on a 2-core machine: one thread each, or their torch/OpenVINO threads
                    # spin against each other (the suite's conftest measured the same for two workers).
                    "OMP_NUM_THREADS": "1"})
        env.update(self.env)
        return env

    def _own_cache(self, env: dict[str, str], data_dir: Path) -> dict[str, str]:
        """Each replica its own USER_STUDIO_CACHE_DIR unless ``env`` names one: two replicas converting the
        same model into one OpenVINO cache at once raced (2026-12-08, today's app: one read model.xml
        while the other was still writing it and failed to start)."""
        if "USER_STUDIO_CACHE_DIR" in self.env:
            return env
        return {**env, "USER_STUDIO_CACHE_DIR": str(data_dir / "cache")}

    def start(self) -> ReplicaCluster:
        if self.replicas:
            return self
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="user-studio-replicas-"))
            self._own_workdir = True
        if self.models_dir is not None:
            self.models_dir.mkdir(parents=True, exist_ok=True)
        atexit.register(self.stop)
        env = self.replica_env()
        try:
            for index in range(self.n):
                data_dir = self.workdir / f"replica{index}"
                data_dir.mkdir(parents=True, exist_ok=True)
                replica = Replica(index=index, port=free_port(), data_dir=data_dir, log=self.workdir / f"replica{index}.log")
                self.replicas.append(replica)
                self._launch(replica, env)
            # The replicas start side by side (model load, numba warm-up); then each is waited for.
            for replica in self.replicas:
                self.wait_healthy(replica)
            self.proxy = HAProxy([r.port for r in self.replicas], self.workdir / "haproxy",
                                 health_path=self.health_path).start()
            self.proxy.wait_states({f"app{r.index + 1}": "UP" for r in self.replicas})
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self, replica: Replica, env: dict[str, str]) -> None:
        argv = (self.command or self.app_command)(replica.port, replica.data_dir, replica.index)
        env = self._own_cache(env, replica.data_dir)
        with open(replica.log, "ab") as log:
            replica.process = subprocess.Popen(list(argv), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                               stdin=subprocess.DEVNULL, start_new_session=True)

    def wait_healthy(self, replica: Replica, timeout_s: float | None = None) -> None:
        """Wait until ``replica`` answers its health route with 200; its log's end if it dies first."""
        deadline = time.monotonic() + (timeout_s or self.start_timeout_s)
        while time.monotonic() < deadline:
            if not replica.alive:
                code = replica.process.returncode if replica.process is not None else None
                raise RuntimeError(f"replica {replica.index} exited with {code}:\n{_log_tail(replica.log)}")
            if _get(replica.url.rstrip("/") + self.health_path) == 200:
                return
            time.sleep(0.05)
        raise RuntimeError(f"replica {replica.index} did not answer {self.health_path} within "
                           f"{timeout_s or self.start_timeout_s:g} s:\n{_log_tail(replica.log)}")

    def kill(self, index: int, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` (SIGKILL: no goodbye, leases and connections left as they were) to replica ``index``'s
        whole process group, and reap it."""
        replica = self.replicas[index]
        if replica.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(replica.process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            replica.process.wait(timeout=10)

    def restart(self, index: int) -> None:
        """Start replica ``index`` again on its port (after :meth:`kill`) and wait until it is healthy."""
        replica = self.replicas[index]
        if replica.alive:
            raise RuntimeError(f"replica {index} is still running")
        self._launch(replica, self.replica_env())
        self.wait_healthy(replica)

    def stop(self) -> None:
        """Stop HAProxy and every replica (their process groups); remove the work folder if it was ours."""
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None
        for replica in self.replicas:
            if replica.process is not None:
                _stop_group(replica.process)
        if self._own_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        self.replicas = []
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)

    def logs(self) -> str:
        """Every replica's log end, for a failing test's message."""
        return "\n".join(f"--- replica {r.index} ---\n{_log_tail(r.log)}" for r in self.replicas)

    def __enter__(self) -> ReplicaCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
