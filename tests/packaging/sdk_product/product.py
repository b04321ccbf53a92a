"""The smallest product a vendor can write with the santong SDK: an adapter class and `santong adapter run`.

It uses only the installed ``santong`` package (no extra): two points with fixed values, pushed once a second;
the SDK's platform client does registration, definitions, heartbeats, clock, commands and store-and-forward.

    python product.py tiny.adapter.yaml --platform grpc://HOST:PORT --device-id ID --token TOKEN --queue FILE
"""

from __future__ import annotations

import asyncio
import sys

from santong.adapters import Adapter, NoSettings, UplinkSink, register

from santong.cli import main


class TinyAdapter(Adapter[NoSettings]):
    """Methane at 0.42 %CH4 and a shearer that is running."""

    kind = "tiny"

    async def start(self, sink: UplinkSink) -> None:
        self._task = asyncio.create_task(self._run(sink))

    async def _run(self, sink: UplinkSink) -> None:
        while True:
            await sink.observations(p.observation(1 if p.is_switch else 0.42) for p in self.points.values())
            await asyncio.sleep(1.0)

    async def stop(self) -> None:
        self._task.cancel()


register("tiny", TinyAdapter)
sys.exit(main(["adapter", "run", *sys.argv[1:]]))
