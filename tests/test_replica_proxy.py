"""deploy/haproxy.cfg in front of three replicas (issue 22, point 5), proven with trivial backends that
answer their own name: cookie-sticky sessions, new visitors spread over the replicas, a SIGKILLed
replica's visitors taken elsewhere, and tests/replica_cluster.py leaving no process behind."""

from __future__ import annotations

import http.cookiejar
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.replica_cluster import DEPLOY_CFG, ReplicaCluster, haproxy_binary, render_haproxy_config

# A replica stand-in: answers every GET (its health route too) with its name and what the proxy sent it.
BACKEND = r"""
import json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"name": sys.argv[2], "cookie": self.headers.get("Cookie"),
                           "forwarded_for": self.headers.get("X-Forwarded-For"),
                           "secret": os.environ.get("USER_STUDIO_SECRET"),
                           "cache": os.environ.get("USER_STUDIO_CACHE_DIR")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


@pytest.fixture(scope="module")
def haproxy() -> str:
    binary = haproxy_binary()
    if binary is None:
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail("haproxy is required on CI (make services installs it)", pytrace=False)
        pytest.skip("haproxy is not installed (make services installs it where we are root)")
    return binary


def name_servers(port: int, data_dir: Path, index: int) -> list[str]:
    return [sys.executable, "-c", BACKEND, str(port), f"replica{index}"]


def browser() -> urllib.request.OpenerDirector:
    """A client with its own cookie jar, as one browser session is."""
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def ask(client: urllib.request.OpenerDirector, url: str) -> dict:
    with client.open(url, timeout=10) as response:
        return json.loads(response.read())


def test_the_deployed_config_renders_with_the_tests_ports_and_is_valid(haproxy: str, tmp_path: Path) -> None:
    text = render_haproxy_config([5001, 5002, 5003, 5004], 6000, stats_socket=tmp_path / "s.sock",
                                 health_path="/healthz")
    servers = [line.split() for line in text.splitlines() if line.strip().startswith("server ")]
    assert [s[1:5] for s in servers] == [[f"app{i}", f"127.0.0.1:{5000 + i}", "cookie", f"app{i}"] for i in range(1, 5)]
    assert "    bind 127.0.0.1:6000" in text and "uri /healthz" in text and f"stats socket {tmp_path / 's.sock'}" in text
    # Everything else is the deployed file's: the stickiness, the streaming timeouts, the client's address.
    for line in ("cookie SERVERID insert indirect nocache", "timeout tunnel 1h", "timeout server 1h",
                 "option forwardfor", "option redispatch"):
        assert line in text and line in DEPLOY_CFG.read_text()
    (tmp_path / "h.cfg").write_text(text)
    checked = subprocess.run([haproxy, "-c", "-f", str(tmp_path / "h.cfg")], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_sessions_stick_to_their_replica_and_move_when_it_dies(haproxy: str, tmp_path: Path) -> None:
    cluster = ReplicaCluster(None, n=3, command=name_servers, workdir=tmp_path)
    with cluster:
        pids = [replica.process.pid for replica in cluster.replicas]
        alice, bob = browser(), browser()
        first_alice, first_bob = ask(alice, cluster.url), ask(bob, cluster.url)
        # New sessions go round the replicas; each then keeps its own, request after request.
        assert first_alice["name"] != first_bob["name"]
        for _ in range(5):
            assert ask(alice, cluster.url + "gradio_api/queue/data")["name"] == first_alice["name"]
            assert ask(bob, cluster.url)["name"] == first_bob["name"]
        later = ask(alice, cluster.url)
        # HAProxy's cookie is its own (indirect): the replica never sees it; it sees the client's address.
        assert later["cookie"] is None and later["forwarded_for"] == "127.0.0.1"
        # One signing secret for every replica; an OpenVINO cache of its own for each.
        assert first_alice["secret"] == first_bob["secret"] == cluster.secret
        assert first_alice["cache"] != first_bob["cache"]
        alice_cookie = [c for c in alice.handlers if isinstance(c, urllib.request.HTTPCookieProcessor)][0].cookiejar
        assert {c.name for c in alice_cookie} == {"SERVERID"}

        # Alice's replica dies: her next request is answered by another one (option redispatch), at once.
        cluster.kill(int(first_alice["name"].removeprefix("replica")))
        moved = ask(alice, cluster.url)["name"]
        assert moved != first_alice["name"]
        assert ask(bob, cluster.url)["name"] == first_bob["name"]
        # ...and she stays on the new one (HAProxy set her cookie again).
        assert ask(alice, cluster.url)["name"] == moved
        proxy_pid = cluster.proxy.process.pid
    for pid in [*pids, proxy_pid]:  # no orphans: every replica and HAProxy are gone
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_replica_runs_the_app_on_the_shared_store_and_models_with_its_own_data(tmp_path: Path) -> None:
    cluster = ReplicaCluster("postgresql+psycopg://postgres@127.0.0.1:5999/t1", models_dir=tmp_path / "models",
                             model=tmp_path / "tiny", env={"EXTRA": "1"})
    argv = cluster.app_command(7001, tmp_path / "replica0", 0)
    assert argv[1].endswith("app.py")
    flags = dict(zip(argv[2::2], argv[3::2], strict=False))
    assert flags["--port"] == "7001" and flags["--host"] == "127.0.0.1"
    assert flags["--store"] == "postgresql+psycopg://postgres@127.0.0.1:5999/t1"
    assert flags["--models-dir"] == str(tmp_path / "models") and flags["--data-dir"] == str(tmp_path / "replica0")
    assert flags["--model"] == str(tmp_path / "tiny")
    env = cluster.replica_env()
    assert env["USER_STUDIO_SECRET"] == cluster.secret and len(cluster.secret) >= 32 and env["EXTRA"] == "1"
    with pytest.raises(ValueError, match="store_url and models_dir"):
        ReplicaCluster(None).app_command(7001, tmp_path, 0)
