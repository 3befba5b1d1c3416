"""The server's listening socket: every connection it accepts sends without Nagle's delay.

A response goes out as two writes (headers, then body). With Nagle's algorithm on, the
body waits for the client to acknowledge the headers, and clients delay that ACK by up to
40 ms: every request on a kept-alive connection (every browser request after the first)
then took 40 ms more than the server spent on it. The check is made on the socket asyncio
hands to the server for a real accepted connection, as uvicorn gets it.
"""

from __future__ import annotations

import asyncio
import socket

from flowscope.server import listen


async def _accepted_nodelay(server_socket: socket.socket) -> int:
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    loop = asyncio.get_running_loop()
    server = await loop.create_server(Probe, sock=server_socket)
    port = server_socket.getsockname()[1]
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        value = await asyncio.wait_for(seen, 10)
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
    return value


def test_accepted_connections_have_nagle_off() -> None:
    sock = listen("127.0.0.1", 0)
    assert asyncio.run(_accepted_nodelay(sock)) != 0


def test_listening_socket_says_it_is_tcp() -> None:
    sock = listen("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
