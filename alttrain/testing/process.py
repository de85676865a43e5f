"""The fault server in a process of its own (``python -m alttrain.testing --plan JSON``): no shared interpreter."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import urllib.request
from collections import Counter

from alttrain.processes import ChildServer
from alttrain.testing.answers import FaultPlan
from alttrain.testing.fault_server import HOST, START_TIMEOUT_S, Handler, ServerStats, serve


class FaultServerProcess:
    """The server in a child process (its own interpreter): ``with FaultServerProcess(plan) as server:``."""

    def __init__(self, plan: FaultPlan | None = None) -> None:
        self.plan = plan or FaultPlan()
        self._child: ChildServer | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (``http://127.0.0.1:PORT/v1``)."""
        return f"http://{HOST}:{self.port}/v1"

    def stats(self) -> ServerStats:
        """Read the server's counts over ``GET /stats``."""
        with urllib.request.urlopen(f"http://{HOST}:{self.port}/stats", timeout=10) as response:
            data = json.loads(response.read())
        data["faults"] = Counter(data["faults"])
        return ServerStats(**data)

    def __enter__(self) -> FaultServerProcess:
        command = [sys.executable, "-m", "alttrain.testing", "--plan", self.plan.to_json()]
        self._child = ChildServer(command)
        line = self._child.read_line(time.monotonic() + START_TIMEOUT_S)
        if not line or not line.startswith("listening "):
            self._child.stop()
            raise RuntimeError(f"fault server process did not start: {line!r}")
        self.port = int(line.rsplit(":", 1)[1])
        return self

    def __exit__(self, *_: object) -> None:
        if self._child is not None:
            self._child.stop()


async def _main_process(plan: FaultPlan, port: int) -> None:
    """Serve in this process until terminated, printing the address first."""
    ready: asyncio.Future[tuple[int, Handler]] = asyncio.get_running_loop().create_future()
    ready.add_done_callback(lambda future: print(f"listening {HOST}:{future.result()[0]}", flush=True))
    await serve(plan, port, ready, asyncio.Event())


def main() -> None:
    """Serve from the command line: ``python -m alttrain.testing [--plan JSON] [--port N]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", default=FaultPlan().to_json(), help="a FaultPlan as JSON")
    parser.add_argument("--port", type=int, default=0)
    arguments = parser.parse_args()
    asyncio.run(_main_process(FaultPlan.from_json(arguments.plan), arguments.port))
