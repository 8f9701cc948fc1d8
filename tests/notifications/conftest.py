"""Local receivers for notifications: an SMTP server and a webhook (HTTP) server."""

from __future__ import annotations

import http.server
import json
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass
class Hook:
    """What the local webhook server got, and how it answers."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def texts(self) -> list[str]:
        with self.lock:
            return [json.loads(r)["text"] for r in self.received]


@pytest.fixture
def hook() -> Iterator[Hook]:
    """A plain-HTTP server on 127.0.0.1 recording the JSON bodies POSTed to it."""
    state = Hook()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.lock:
                state.received.append(body)
                status = state.answers.pop(0) if state.answers else 200
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status == 200 else b"no such hook")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/services/T0/B0/xyz1"
    yield state
    server.shutdown()
    server.server_close()


@dataclass
class Mailbox:
    """Messages a local SMTP server accepted: (sender, recipients, data)."""

    port: int = 0
    messages: list[tuple[str, list[str], str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def smtp_server() -> Iterator[Mailbox]:
    """A minimal real SMTP server (EHLO, MAIL, RCPT, DATA, QUIT) on 127.0.0.1."""
    box = Mailbox()

    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write((line + "\r\n").encode())

        def handle(self) -> None:
            sender, recipients = "", []
            self.reply("220 test SMTP ready")
            while line := self.rfile.readline():
                command = line.decode().strip()
                verb = command[:4].upper()
                if verb in ("EHLO", "HELO"):
                    self.reply("250 test")
                elif verb == "MAIL":
                    sender = command.split(":", 1)[1].strip().strip("<>")
                    self.reply("250 OK")
                elif verb == "RCPT":
                    recipients.append(command.split(":", 1)[1].strip().strip("<>"))
                    self.reply("250 OK")
                elif verb == "DATA":
                    self.reply("354 End data with <CR><LF>.<CR><LF>")
                    data = []
                    while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                        data.append(chunk.decode())
                    with box.lock:
                        box.messages.append((sender, recipients, "".join(data)))
                    sender, recipients = "", []
                    self.reply("250 OK queued")
                elif verb == "QUIT":
                    self.reply("221 Bye")
                    return
                else:  # RSET, NOOP and anything else
                    self.reply("250 OK")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    box.port = server.server_address[1]
    yield box
    server.shutdown()
    server.server_close()
