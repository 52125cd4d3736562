"""Child processes for the demo: started in order, stopped in reverse, never left behind."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Linux: the kernel sends SIGTERM to the child if the demo itself is killed (even -9).
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if nothing listens on host:port now."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float, host: str = "127.0.0.1") -> bool:
    """True once something accepts connections on host:port, False after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.1)
    return False


@dataclass
class Child:
    """A started process and where its output goes."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path


@dataclass
class Supervisor:
    """Starts children in their own session (so Ctrl-C reaches only us) and stops them all."""

    log_dir: Path
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Child:
        """Start ``argv`` with output to ``log_dir/name.log``."""
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("ab") as out:
            proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 (no threads exist yet at start)
                env={**os.environ, **(env or {})},
            )
        child = Child(name, proc, log_path)
        self.children.append(child)
        return child

    def run(self, name: str, argv: list[str], timeout: float = 120.0) -> int:
        """Run ``argv`` to its end (a set-up step, not a child to watch); its exit code."""
        with (self.log_dir / f"{name}.log").open("ab") as out:
            done = subprocess.run(
                argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                timeout=timeout, check=False,
            )  # fmt: skip
        return done.returncode

    def dead(self) -> list[Child]:
        """Children that have exited."""
        return [c for c in self.children if c.proc.poll() is not None]

    def stop_all(self, timeout: float = 10.0) -> None:
        """SIGTERM in reverse start order, then SIGKILL whatever is left after ``timeout``."""
        for child in reversed(self.children):
            if child.proc.poll() is None:
                child.proc.send_signal(signal.SIGTERM)
                try:
                    child.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    log.warning("%s did not stop in %.0f s; killing it", child.name, timeout)
                    child.proc.kill()
                    child.proc.wait()
        self.children.clear()


def tail(path: Path, lines: int = 5) -> str:
    """The last lines of a log file, for error messages."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])
