"""The platform client whose sequence counter was lost (its queue file gone) starts a new sequence epoch
(ST-PROTO-037) — against the real mock platform over gRPC and HTTP/JSON; against a platform that speaks only 1.0 it
continues above the platform's last sequence as before."""

from __future__ import annotations

from pathlib import Path

import pytest
from santong.adapters.client import UploadQueue
from santong.mock_platform._config import PlatformConfig
from santong.mock_platform.embedded import MockPlatform
from santong.protocols import default_limits
from st_waiting import DEADLINE_S
from test_client_platform import CH4, DEVICE, config, started, values


async def _deliver(cfg: object, start: float, n: int) -> None:
    c = await started(cfg)  # type: ignore[arg-type]
    try:
        for i in range(n):
            await c.observations([(CH4, start + i / 100, None, 0)])
        assert await c.wait_delivered(DEADLINE_S)
    finally:
        await c.stop()


async def _uploads(mp: MockPlatform) -> list[tuple[int, int]]:
    return [(u["epoch"], u["sequence"]) for u in await mp.platform.inspection.uploads(DEVICE)]


@pytest.mark.parametrize("transport", ["grpc", "http"])
async def test_a_lost_counter_starts_a_new_epoch_and_nothing_is_lost(tmp_path: Path, transport: str) -> None:
    async with MockPlatform(PlatformConfig(devices={DEVICE: "secret"}, limits=default_limits())) as mp:
        await _deliver(config(tmp_path, mp, transport=transport, queue="a.db"), 1.0, 3)
        before = await _uploads(mp)
        assert before and {e for e, _ in before} == {0}
        # the queue file is lost: a new one counts from 1 again and learns it must start a new epoch
        cfg = config(tmp_path, mp, transport=transport, queue="b.db")
        await _deliver(cfg, 2.0, 3)
        after = await _uploads(mp)
        assert after[: len(before)] == before  # the first epoch's uploads stay
        assert {e for e, _ in after[len(before) :]} == {1} and after[len(before)][1] == 1
        [dev] = [d for d in await mp.platform.inspection.devices() if d["device_id"] == DEVICE]
        assert dev["sequence_epoch"] == 1 and dev["negotiated_version"] == "1.1"
        got = sorted(v for _, v, _ in await values(mp))
        assert got == [1.0, 1.01, 1.02, 2.0, 2.01, 2.02]  # nothing lost, nothing stored twice
        rejected = await mp.platform.inspection.interactions(device_id=DEVICE, verdict="REJECTED")
        conflicts = await mp.platform.inspection.interactions(device_id=DEVICE, verdict="CONFLICT")
        assert rejected == [] and conflicts == []
        with UploadQueue(tmp_path / "b.db") as q:
            assert q.get_meta("sequence_epoch") == 1
        # the same queue again: the client declares epoch 1 and continues it (no further epoch)
        await _deliver(cfg, 3.0, 1)
        assert (await _uploads(mp))[-1][0] == 1
        [dev] = [d for d in await mp.platform.inspection.devices() if d["device_id"] == DEVICE]
        assert dev["sequence_epoch"] == 1


async def test_against_a_1_0_platform_the_client_continues_above_the_last_sequence(tmp_path: Path) -> None:
    cfg_mp = PlatformConfig(devices={DEVICE: "secret"}, limits=default_limits(), supported_versions=("1.0",))
    async with MockPlatform(cfg_mp) as mp:
        await _deliver(config(tmp_path, mp, queue="a.db"), 1.0, 2)
        await _deliver(config(tmp_path, mp, queue="b.db"), 2.0, 2)
        ups = await _uploads(mp)
        assert {e for e, _ in ups} == {0} and [s for _, s in ups] == sorted(s for _, s in ups)
        assert sorted(v for _, v, _ in await values(mp)) == [1.0, 1.01, 2.0, 2.01]
        [dev] = [d for d in await mp.platform.inspection.devices() if d["device_id"] == DEVICE]
        assert dev["negotiated_version"] == "1.0" and dev["sequence_epoch"] == 0
