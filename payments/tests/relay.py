"""A TCP relay for tests: put it in front of a server, stop it to make the server unreachable.

    with TcpRelay("127.0.0.1", live_server_port) as relay:
        standin.webhook_url = f"{relay.url}/payments/stripe/webhook/"
        relay.stop()   # connections to relay.url are refused: "the web side is down"
        relay.start()  # the same address works again

It listens on 127.0.0.1 on a port chosen at the first start() and kept after, and copies bytes
both ways, a thread per direction. stop() also cuts the connections in progress.
"""

from __future__ import annotations

import contextlib
import socket
import threading

LOOPBACK = "127.0.0.1"
CHUNK = 65536
# How often the accepting thread looks up to see whether stop() was called.
POLL_SECONDS = 0.05


class TcpRelay:
    def __init__(self, target_host: str, target_port: int, connect_timeout: float = 5.0):
        self.target = (target_host, target_port)
        self.connect_timeout = connect_timeout
        self.port: int | None = None  # chosen at the first start(), kept after
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self._stopping: threading.Event | None = None
        self._sockets: set[socket.socket] = set()  # both ends of every open connection

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`; known from the first start() on."""
        if self.port is None:
            raise RuntimeError("start() the relay first")
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> TcpRelay:
        if self._listener is not None:
            raise RuntimeError("the relay is already running")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # The same port again right after stop(), whatever connections are still closing on it.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((LOOPBACK, self.port or 0))
            listener.listen(64)
        except OSError:
            listener.close()
            raise
        listener.settimeout(POLL_SECONDS)
        self.port = listener.getsockname()[1]
        self._listener, self._stopping = listener, threading.Event()
        self._accepting = threading.Thread(
            target=self._accept,
            args=(listener, self._stopping),
            name=f"tcp-relay-{self.port}",
            daemon=True,
        )
        self._accepting.start()
        return self

    def stop(self) -> None:
        """Refuse new connections and cut the open ones; start() again serves the same port."""
        if self._listener is None:
            return
        self._stopping.set()
        self._accepting.join(timeout=5)
        self._listener.close()
        self._listener = self._accepting = self._stopping = None
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            _close(sock)

    def __enter__(self) -> TcpRelay:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _accept(self, listener: socket.socket, stopping: threading.Event) -> None:
        while not stopping.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # the listener was closed
            client.settimeout(None)
            threading.Thread(
                target=self._relay, args=(client, stopping), name="tcp-relay-conn", daemon=True
            ).start()

    def _relay(self, client: socket.socket, stopping: threading.Event) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=self.connect_timeout)
        except OSError:
            _close(client)  # the target is down: the client sees its connection closed
            return
        upstream.settimeout(None)
        with self._lock:
            if stopping.is_set():  # stop() came while connecting
                _close(client)
                _close(upstream)
                return
            self._sockets |= {client, upstream}
        back = threading.Thread(
            target=_pump, args=(upstream, client), name="tcp-relay-back", daemon=True
        )
        back.start()
        _pump(client, upstream)
        back.join()
        with self._lock:
            self._sockets -= {client, upstream}
        _close(client)
        _close(upstream)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy bytes until `source` ends (then pass the end on) or either socket breaks."""
    try:
        while data := source.recv(CHUNK):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        # One side broke or stop() cut it: cut the other too, so its pump ends as well.
        _close(source)
        _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # not connected, or closed already
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
