"""The front ``manage.py up`` puts before gunicorn (issue 20 findings 4-5).

gunicorn's threaded workers read a request with a worker thread: ten clients
that each send one header line every five seconds held every thread of
``up``'s default 2 × 4, and 200 stopped the service. This front, one asyncio
process, reads each request **whole** before anything of the application sees
it, so a slow or idle client costs a coroutine and a socket, never a thread:

- the request head must arrive within ``HEAD_TIMEOUT`` (else ``408``), be at
  most ``HEAD_LIMIT`` bytes (``431``); the body at most ``max_body`` bytes
  (``413``, from ``Content-Length`` before reading, or as chunks arrive), with no
  gap longer than ``BODY_GAP`` between its parts (``408``);
- a kept-alive connection waits ``IDLE_TIMEOUT`` for the next request and serves
  at most ``MAX_REQUESTS`` before it is closed, so clients reconnect now and then;
- each request goes to gunicorn on a **new** connection to its unix socket
  (``Connection: close``), in the order the requests were read whole. ``up``'s
  workers accept a connection only while one of their threads is free
  (``worker_connections`` = threads, ``central/management/commands/up.py``
  ``serve``), so waiting requests wait in the socket's backlog, first come first
  served, and the next free thread of any worker takes the oldest (issue 16: a
  connection kept alive to a worker queued a request behind that worker's busy
  threads while the other worker's were free). A worker restarted after a crash
  gets requests at once (finding 5: clients kept their connections to the
  survivor);
- the answer is read whole from gunicorn, then written to the client: a slow
  reader does not hold a worker thread either.

It accepts on a listening socket ``manage.py up`` holds and lends it (``--fd``):
when the front is killed the port stays open, connections wait in the kernel's
backlog until ``up`` has started another, and only those it held are lost.

The client's address goes to the application in ``X-Forwarded-For`` (its last
value); gunicorn listens only on the unix socket, so nobody else can set it.
Refusals are JSON in the GraphQL error shape, like every answer of the
platform. When gunicorn cannot be reached (restarting), the answer is ``503``
with ``Retry-After``; when it fails in the middle of an answer, ``502``
``UPSTREAM_FAILED`` (the request may or may not have taken effect: the
platform's writes are transactions, so it is wholly applied or not at all).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import time
from collections.abc import Sequence

import h11

HEAD_TIMEOUT = 10.0
HEAD_LIMIT = 32 * 1024
BODY_GAP = 10.0
IDLE_TIMEOUT = 5.0
MAX_REQUESTS = 100
UPSTREAM_TIMEOUT = 300.0
CONNECT_ATTEMPTS = 10  # 0.1 s apart: gunicorn restarting a worker
READ_SIZE = 64 * 1024
BACKLOG = 1024
HOP_BY_HOP = {
    b"connection",
    b"keep-alive",
    b"proxy-connection",
    b"transfer-encoding",
    b"te",
    b"trailer",
    b"upgrade",
    b"content-length",
    b"expect",
    b"x-forwarded-for",
}


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _error_body(code: str, message: str) -> bytes:
    return json.dumps(
        {"errors": [{"message": message, "extensions": {"code": code}}]}, ensure_ascii=False
    ).encode()


class Front:
    def __init__(self, upstream: str, max_body: int, heavy: int | None = None):
        self.upstream = upstream
        self.max_body = max_body
        self.served = 0
        # CPU-heavy requests (password hashing, PDFs) in flight at once: all cores but
        # one, so they cannot set the tail of the fast ones (issue 20 finding 6);
        # ``heavy``: this front's share when several share the port.
        self.heavy = asyncio.Semaphore(heavy or heavy_limit())

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        address = peer[0] if isinstance(peer, tuple) else "unix"
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=HEAD_LIMIT)
        try:
            for count in range(1, MAX_REQUESTS + 1):
                first = count == 1
                try:
                    request = await self._head(conn, reader, first)
                except _Refused as refused:
                    await self._refuse(conn, writer, refused)
                    return
                if request is None:
                    return  # closed, or idle too long between requests
                try:
                    body = await self._body(conn, reader, writer, request)
                    if _cpu_heavy(request, body):
                        async with self.heavy:  # one core stays free for the fast requests
                            status, headers, content = await self._forward(request, body, address)
                    else:
                        status, headers, content = await self._forward(request, body, address)
                except _Refused as refused:
                    await self._refuse(conn, writer, refused)
                    return
                last = count == MAX_REQUESTS or not _keep_alive(request)
                if last:
                    headers.append((b"connection", b"close"))
                await self._send(conn, writer, status, headers, content)
                self.served += 1
                if last or conn.our_state is not h11.DONE:
                    return
                conn.start_next_cycle()
        except (ConnectionError, h11.ProtocolError, asyncio.IncompleteReadError):
            return  # the client went away or spoke something else: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _head(self, conn, reader, first: bool) -> h11.Request | None:
        """The next request's head, or None when the client is done (closed, or
        idle past ``IDLE_TIMEOUT`` between requests)."""
        deadline = time.monotonic() + HEAD_TIMEOUT
        started = first  # a first request is timed from the connection
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as error:
                if error.error_status_hint == 431:
                    raise _Refused(
                        431, "HEADERS_TOO_LARGE", "the request head is too large"
                    ) from None
                raise _Refused(400, "MALFORMED", "not an HTTP/1.1 request") from None
            if isinstance(event, h11.Request):
                return event
            if isinstance(event, h11.ConnectionClosed):
                return None
            left = deadline - time.monotonic() if started else IDLE_TIMEOUT
            try:
                data = await asyncio.wait_for(reader.read(READ_SIZE), max(left, 0.01))
            except TimeoutError:
                if started:
                    raise _Refused(
                        408, "REQUEST_TIMEOUT", "the request head came too slowly"
                    ) from None
                return None
            if data and not started:
                started, deadline = True, time.monotonic() + HEAD_TIMEOUT
            conn.receive_data(data)

    async def _body(self, conn, reader, writer, request: h11.Request) -> bytes:
        length = _header(request, b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            raise _Refused(
                413, "TOO_LARGE", f"the request body is larger than {self.max_body} bytes"
            )
        if conn.they_are_waiting_for_100_continue:
            writer.write(conn.send(h11.InformationalResponse(status_code=100, headers=[])))
        parts, size = [], 0
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError:
                raise _Refused(400, "MALFORMED", "the request body is malformed") from None
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > self.max_body:
                    raise _Refused(
                        413, "TOO_LARGE", f"the request body is larger than {self.max_body} bytes"
                    )
                parts.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(parts)
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("the client left in the middle of its request")
            else:  # NEED_DATA
                try:
                    data = await asyncio.wait_for(reader.read(READ_SIZE), BODY_GAP)
                except TimeoutError:
                    raise _Refused(
                        408, "REQUEST_TIMEOUT", "the request body came too slowly"
                    ) from None
                conn.receive_data(data)

    async def _upstream(self):
        """A new connection to gunicorn (retried for a second while gunicorn restarts
        a worker). Never one kept from an earlier request: that would go to the
        worker which answered it, whether or not a thread of it is free."""
        for _ in range(CONNECT_ATTEMPTS):
            try:
                return await asyncio.open_unix_connection(self.upstream)
            except OSError:
                await asyncio.sleep(0.1)
        raise _Refused(503, "UNAVAILABLE", "the service is restarting; retry in a moment")

    async def _forward(self, request: h11.Request, body: bytes, address: str):
        reader, writer = await self._upstream()
        try:
            client = h11.Connection(h11.CLIENT)
            forwarded = _header(request, b"x-forwarded-for")
            chain = f"{forwarded.decode('latin-1')}, {address}" if forwarded else address
            headers = [(k, v) for k, v in request.headers if k.lower() not in HOP_BY_HOP]
            headers += [
                (b"x-forwarded-for", chain.encode("latin-1")),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ]
            head = h11.Request(method=request.method, target=request.target, headers=headers)
            writer.write(client.send(head))
            if body:
                writer.write(client.send(h11.Data(data=body)))
            writer.write(client.send(h11.EndOfMessage()))
            await writer.drain()
            return await asyncio.wait_for(_read_response(client, reader), UPSTREAM_TIMEOUT)
        except (OSError, h11.ProtocolError, TimeoutError, asyncio.IncompleteReadError):
            raise _Refused(
                502,
                "UPSTREAM_FAILED",
                "the server stopped while answering; the request may or may not have taken "
                "effect (each write is all or nothing): look before retrying a write",
            ) from None
        finally:
            writer.close()

    async def _send(self, conn, writer, status: int, headers, content: bytes) -> None:
        # One write: head and body leave together, so a client that reads once
        # (or a proxy that forwards per segment) sees the whole answer.
        parts = [conn.send(h11.Response(status_code=status, headers=headers))]
        if content:
            parts.append(conn.send(h11.Data(data=content)))
        parts.append(conn.send(h11.EndOfMessage()))
        writer.write(b"".join(parts))
        await writer.drain()

    async def _refuse(self, conn, writer, refused: _Refused) -> None:
        if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        content = _error_body(refused.code, refused.message)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(content)).encode()),
            (b"connection", b"close"),
        ]
        if refused.status == 503:
            headers.append((b"retry-after", b"1"))
        with contextlib.suppress(Exception):
            await self._send(conn, writer, refused.status, headers, content)


async def _read_response(client: h11.Connection, reader: asyncio.StreamReader):
    response: h11.Response | None = None
    parts: list[bytes] = []
    while True:
        event = client.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(READ_SIZE)
            client.receive_data(data)
            continue
        if isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.Data):
            parts.append(event.data)
        elif isinstance(event, h11.EndOfMessage):
            if response is None:
                raise ConnectionError("upstream ended a message it never started")
            content = b"".join(parts)
            headers = [(k, v) for k, v in response.headers if k.lower() not in HOP_BY_HOP]
            headers.append((b"content-length", str(len(content)).encode()))
            return response.status_code, headers, content
        elif isinstance(event, h11.ConnectionClosed):
            raise ConnectionError("upstream closed before answering")


# What makes a request CPU-heavy: PBKDF2 (logins, registrations, password changes)
# or a PDF. A query that merely mentions one of these waits its turn, nothing worse.
_HEAVY_FIELDS = (b"login", b"registerVolunteer", b"changePassword", b"resetPassword")


def _cpu_heavy(request: h11.Request, body: bytes) -> bool:
    if request.target.split(b"?")[0].endswith(b".pdf"):
        return True
    return any(field in body for field in _HEAVY_FIELDS)


def heavy_limit(fronts: int = 1) -> int:
    """Each of ``fronts`` fronts' share of all cores but one, at least 1 (so with
    more fronts than spare cores, more heavy requests than that run at once)."""
    return max(1, ((os.cpu_count() or 2) - 1) // fronts)


def _header(request: h11.Request, name: bytes) -> bytes | None:
    for key, value in request.headers:
        if key.lower() == name:
            return value
    return None


def _keep_alive(request: h11.Request) -> bool:
    value = (_header(request, b"connection") or b"").lower()
    if request.http_version == b"1.0":
        return b"keep-alive" in value
    return b"close" not in value


def serve_front(
    host: str | None,
    port: int | None,
    upstream: str,
    max_body: int,
    ready=None,
    fds: Sequence[int] = (),
    parent: int | None = None,
    heavy: int | None = None,
) -> None:
    """Run the front until SIGTERM or SIGINT; ``ready()`` is called once it listens.

    With ``fds`` it accepts on those listening sockets, inherited from ``manage.py
    up``, which keeps them open while a front restarts: a client connecting then
    waits in the kernel's backlog instead of being refused. Else it listens on
    ``host:port`` itself. With ``parent`` it stops when that process is gone."""

    async def main() -> None:
        front = Front(upstream, max_body, heavy)
        if fds:
            sockets = [socket.socket(fileno=fd) for fd in fds]
            # ``up`` makes them listen once gunicorn listens; a front started
            # before accepts nothing until then (asyncio would make them listen).
            while not all(s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) for s in sockets):
                await asyncio.sleep(0.05)
            servers = [
                await asyncio.start_server(front.handle, sock=sock, backlog=BACKLOG)
                for sock in sockets
            ]
        else:
            servers = [
                await asyncio.start_server(
                    front.handle, host, port, reuse_address=True, backlog=BACKLOG
                )
            ]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        watch = loop.create_task(_watch_parent(parent, stop)) if parent is not None else None
        if ready is not None:
            ready()
        async with contextlib.AsyncExitStack() as servers_open:
            for server in servers:
                await servers_open.enter_async_context(server)
            await stop.wait()
        if watch is not None:
            watch.cancel()

    asyncio.run(main())


async def _watch_parent(parent: int, stop: asyncio.Event) -> None:
    """``up`` killed (``kill -9``) cannot stop its children: the front stops itself
    once it has another parent, so nothing holds the port for a dead ``up``."""
    while os.getppid() == parent:
        await asyncio.sleep(1)
    stop.set()


def main(argv: list[str] | None = None) -> None:
    """``python -m central.front --host H --port P --upstream SOCKET --max-body N``
    (``manage.py up`` starts it with ``--fd N --parent PID`` instead of host and
    port; it needs nothing of Django)."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int)
    parser.add_argument(
        "--fd",
        type=int,
        action="append",
        default=[],
        help="an inherited listening socket to accept on (instead of --host/--port)",
    )
    parser.add_argument("--parent", type=int, help="stop when this process is gone")
    parser.add_argument(
        "--heavy", type=int, help="CPU-heavy requests at once (default: all cores but one)"
    )
    parser.add_argument("--upstream", required=True, help="gunicorn's unix socket")
    parser.add_argument("--max-body", type=int, required=True)
    args = parser.parse_args(argv)
    if not args.fd and args.port is None:
        parser.error("--port or --fd is required")
    serve_front(
        args.host,
        args.port,
        args.upstream,
        args.max_body,
        fds=args.fd,
        parent=args.parent,
        heavy=args.heavy,
    )


if __name__ == "__main__":
    main()
