"""A throwaway redis-server on a free loopback port, and fixtures for the tests."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from loopback import free_port
from support import require_tool

HOW_TO_INSTALL = "apt-get install redis-server"
START_SECONDS = 10.0


class RedisServer:
    """One redis-server process; stop() ends it. It keeps nothing on disk unless
    `persistent`: then an append-only file, synced on every write, in `folder`."""

    def __init__(self, executable: str, folder: Path, persistent: bool = False) -> None:
        self.executable = executable
        self.folder = folder
        self.persistent = persistent
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def start(self) -> RedisServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        error = ""
        # Another process may take the free port first: then try another.
        for _ in range(3):
            self.port = free_port()
            self._process = subprocess.Popen(
                self._command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            error = self._wait_until_it_answers()
            if not error:
                return self
        raise RuntimeError(f"redis-server did not start: {error}")

    def restart(self) -> None:
        """Stop, then start again on the same port, as a deployment restarts it."""
        self.stop()
        self.start_stopped()

    def start_stopped(self) -> None:
        """Start again on the port of before, after stop()."""
        self._process = subprocess.Popen(
            self._command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        error = self._wait_until_it_answers()
        if error:
            raise RuntimeError(f"redis-server did not start again: {error}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _command(self) -> list[str]:
        return [
            self.executable,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes" if self.persistent else "no",
            "--appendfsync",
            "always",
            "--dir",
            str(self.folder),
            # Startup errors only: the pipe for them is read when the server ends.
            "--loglevel",
            "warning",
        ]

    def _wait_until_it_answers(self) -> str:
        """Empty once the server answers PING, else what went wrong."""
        assert self._process is not None
        client = self.client()
        deadline = time.monotonic() + START_SECONDS
        try:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    output, _ = self._process.communicate()
                    self._process = None
                    return output.decode(errors="replace")[-2000:]
                try:
                    client.ping()
                    return ""
                except redis.ConnectionError:
                    time.sleep(0.01)
        finally:
            client.close()
        self.stop()
        return f"no answer to PING within {START_SECONDS} s"


def start_redis(folder: Path) -> RedisServer:
    """A started server in `folder`; the test skips when redis-server is missing."""
    executable = require_tool("redis-server", HOW_TO_INSTALL)
    return RedisServer(executable, folder).start()


# A test module imports these to use them; the names differ from the fixtures'
# so that a test's argument does not shadow the import.
@pytest.fixture(scope="module", name="redis_server")
def redis_server_fixture(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RedisServer]:
    """One server for a test module, stopped after its last test."""
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(name="redis_url")
def redis_url_fixture(redis_server: RedisServer) -> Iterator[str]:
    """The module's server, emptied for each test."""
    client = redis_server.client()
    client.flushall()
    yield redis_server.url
    client.close()


@pytest.fixture(name="own_redis")
def own_redis_fixture(tmp_path: Path) -> Iterator[RedisServer]:
    """A server of the test's own, for a test that stops it."""
    server = start_redis(tmp_path / "redis")
    yield server
    server.stop()


@pytest.fixture(name="persistent_redis")
def persistent_redis_fixture(tmp_path: Path) -> Iterator[RedisServer]:
    """A server of the test's own that keeps its data across restarts."""
    executable = require_tool("redis-server", HOW_TO_INSTALL)
    server = RedisServer(executable, tmp_path / "redis", persistent=True).start()
    yield server
    server.stop()
