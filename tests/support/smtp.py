"""A real SMTP server for the notifications' e-mail tests: aiosmtpd in a process of its own
(the suite runs under eventlet's monkeypatch, which asyncio in a thread would not survive),
storing what it accepts in a Maildir the test reads. Stop it and start it again on the same
port to play an SMTP relay that is down for a while."""

from __future__ import annotations

import mailbox
import socket
import subprocess
import sys
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from tests.conftest import free_port


class SmtpServer:
    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 15.0) -> SmtpServer:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                f"127.0.0.1:{self.port}",
                "-c",
                "aiosmtpd.handlers.Mailbox",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the test SMTP server did not listen on {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None

    def messages(self) -> list[EmailMessage]:
        """What the server accepted so far, parsed (headers decoded)."""
        if not (self.directory / "new").exists():
            return []
        box = mailbox.Maildir(self.directory, create=False)
        return [
            message_from_bytes(box.get_bytes(key), policy=policy.default)  # type: ignore[misc]
            for key in box.iterkeys()
        ]
