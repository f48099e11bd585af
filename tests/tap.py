"""Relays in front of the app that time each session's websocket traffic as it passes.

A load test runs every simulated student in one browser on the server's own cores, so how long a
page takes to *draw* an answer says more about that browser than about the server. Each session
gets its own relay (its own port) on loopback; the relays run in a process of their own at normal
priority (not in the test's process, whose threads drive the browser), and note when a session's
messages leave and when the server's answer arrives: the wait a student on their own machine
would have before drawing. Times are `time.monotonic()`, one clock for every process.
"""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field


class Frames:
    """One direction of a websocket split into frames (RFC 6455, section 5.2): notes when each data
    frame has fully passed; pings, pongs and closes (the connection's own upkeep) are left out."""

    def __init__(self) -> None:
        self.ends: list[float] = []
        self._buffer, self._http, self._left, self._opcode = b"", True, None, 0

    def feed(self, data: bytes, now: float) -> None:
        buffer = self._buffer + data
        if self._http:  # the upgrade request or response comes first
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self._buffer = buffer
                return
            buffer, self._http = buffer[end + 4:], False
        while buffer:
            if self._left is None:  # a frame header: FIN/opcode, mask bit + length, longer length, mask key
                if len(buffer) < 2:
                    break
                short = buffer[1] & 0x7F
                size = 2 + {126: 2, 127: 8}.get(short, 0) + (4 if buffer[1] & 0x80 else 0)
                if len(buffer) < size:
                    break
                self._left = int.from_bytes(buffer[2:size - (4 if buffer[1] & 0x80 else 0)], "big") \
                    if short >= 126 else short
                self._opcode, buffer = buffer[0] & 0x0F, buffer[size:]
            taken = min(len(buffer), self._left)
            buffer, self._left = buffer[taken:], self._left - taken
            if self._left == 0:
                if self._opcode < 8:  # text, binary or continuation: a message
                    self.ends.append(now)
                self._left = None
        self._buffer = buffer


@dataclass
class Wire:
    """One websocket connection's message times, each direction."""
    sent: list[float] = field(default_factory=list)      # browser -> server
    received: list[float] = field(default_factory=list)  # server -> browser

    def answer_times(self, after: float) -> list[float]:
        """For each message the browser sent after `after`: the time to the server's last message
        before the browser's next one (the rerun and everything it drew)."""
        asks = [t for t in self.sent if t >= after]
        times = []
        for ask, following in zip(asks, asks[1:] + [float("inf")]):
            replies = [t for t in self.received if ask <= t < following]
            if replies:
                times.append(max(replies) - ask)
        return times


class Relays:
    """`count` loopback relays to `upstream_port`, each with its own port, in their own process;
    their wires are read when the block ends."""

    def __init__(self, upstream_port: int, count: int) -> None:
        self.upstream_port, self.count = upstream_port, count
        self.ports: list[int] = []
        self.wires: list[list[Wire]] = []

    def __enter__(self) -> Relays:
        self._process = subprocess.Popen([sys.executable, __file__, str(self.upstream_port), str(self.count)],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.ports = json.loads(self._process.stdout.readline() or "null") or []
        if len(self.ports) != self.count:
            self._process.kill()
            raise RuntimeError("the relay process did not start")
        return self

    def __exit__(self, *exc) -> None:
        self._process.stdin.write("stop\n")
        self._process.stdin.flush()
        self.wires = [[Wire(*times) for times in relay] for relay in json.loads(self._process.stdout.readline())]
        self._process.wait(timeout=30)

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.ports[i]}"

    def answer_times(self, i: int, after: float) -> list[float]:
        """Session i's answer times after `after` (a `time.monotonic()`), once the block has ended."""
        return [t for wire in self.wires[i] for t in wire.answer_times(after)]


class _Relaying:
    def __init__(self, upstream_port: int, count: int) -> None:
        self.upstream_port = upstream_port
        self.wires: list[list[tuple[Frames, Frames]]] = [[] for _ in range(count)]
        self._writers: set[asyncio.StreamWriter] = set()  # open connections, closed at the end

    async def run(self) -> None:
        """Serve until a line comes on stdin, then print every wire's times (JSON lines, like the ports)."""
        servers = [await asyncio.start_server(lambda r, w, i=i: self._relay(i, r, w), "127.0.0.1", 0)
                   for i in range(len(self.wires))]
        print(json.dumps([server.sockets[0].getsockname()[1] for server in servers]), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        for server in servers:
            server.close()
        for writer in self._writers:  # each relay then reads the end of its streams and returns
            writer.close()
        tasks = asyncio.all_tasks() - {asyncio.current_task()}
        if tasks:
            await asyncio.wait(tasks, timeout=10)
        print(json.dumps([[(sent.ends, received.ends) for sent, received in relay] for relay in self.wires]), flush=True)

    async def _relay(self, i: int, client_reader, client_writer) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_writer.close()
            return
        self._writers |= {client_writer, upstream_writer}
        first = await client_reader.read(65536)
        sent = received = None
        if b"/_stcore/stream" in first.split(b"\r\n", 1)[0]:  # the websocket: time it
            sent, received = Frames(), Frames()
            self.wires[i].append((sent, received))
            sent.feed(first, time.monotonic())
        upstream_writer.write(first)
        await asyncio.gather(self._pump(client_reader, upstream_writer, sent),
                             self._pump(upstream_reader, client_writer, received),
                             return_exceptions=True)  # a closed tab or server ends its relay quietly

    @staticmethod
    async def _pump(reader, writer, frames: Frames | None) -> None:
        try:
            while data := await reader.read(65536):
                if frames is not None:
                    frames.feed(data, time.monotonic())
                writer.write(data)
                await writer.drain()
        except (OSError, RuntimeError):  # the other side went away, or the relay is closing
            pass
        finally:
            writer.close()


if __name__ == "__main__":  # the relay process: python tests/tap.py UPSTREAM_PORT COUNT
    asyncio.run(_Relaying(int(sys.argv[1]), int(sys.argv[2])).run())
