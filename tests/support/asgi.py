"""The site under a real ASGI server in a thread of the test process:
uvicorn serving ``config.asgi.application`` (pages through Django's ASGI
handler, ``/events/`` as the Procfile's ``asgi`` process serves it), with the
test's settings and database. Django's ``live_server`` is a WSGI server, on
which an event stream cannot stream (generation/push.py answers 204 there).

Use with ``django_db(transaction=True, serialized_rollback=True)`` on
PostgreSQL: the server's threads have connections of their own and see only
committed rows."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn


class AsgiServer:
    """``with AsgiServer() as server: server.url``: started, then stopped."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            "config.asgi:application", host="127.0.0.1", port=self.port, lifespan="off", log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="asgi-server", daemon=True)

    def __enter__(self) -> AsgiServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
