"""santong.adapters.modbus — Modbus TCP devices through pymodbus (install with ``pip install 'santong[modbus]'``).

Registered under the entry-point group ``santong.adapters`` as ``modbus``. The same file set as every adapter:
``config.py`` (settings and point source), ``converter.py`` (read coalescing, uplink and downlink converters),
``adapter.py`` (polling, failures, writes).
"""

from santong.adapters.modbus.adapter import ModbusAdapter, ModbusStats
from santong.adapters.modbus.config import ModbusSettings, RegisterSource
from santong.adapters.modbus.converter import (
    FAILURE_STATUS,
    Failure,
    ModbusDownlink,
    ModbusUplink,
    ReadBlock,
    ReadPlan,
    Span,
    WriteRequest,
    plan_reads,
)

__all__ = [
    "FAILURE_STATUS",
    "Failure",
    "ModbusAdapter",
    "ModbusDownlink",
    "ModbusSettings",
    "ModbusStats",
    "ModbusUplink",
    "ReadBlock",
    "ReadPlan",
    "RegisterSource",
    "Span",
    "WriteRequest",
    "plan_reads",
]
