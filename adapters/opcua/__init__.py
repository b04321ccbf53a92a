"""santong.adapters.opcua — OPC UA devices through asyncua subscriptions (``adapter.kind: opcua``).

Files as in every adapter: ``config.py`` (settings and point source), ``converter.py`` (data changes →
observations with the status-code mapping; writes → typed variants), ``adapter.py`` (session, subscription,
reconnect, writes). Needs the ``opcua`` extra: ``pip install 'santong[opcua]'``.
"""

from santong.adapters.opcua.adapter import OpcUaAdapter, OpcUaStats
from santong.adapters.opcua.config import OpcUaSettings, OpcUaSource
from santong.adapters.opcua.converter import (
    Notification,
    OpcUaDownlink,
    OpcUaUplink,
    StatusMapping,
    map_status,
)

__all__ = [
    "Notification",
    "OpcUaAdapter",
    "OpcUaDownlink",
    "OpcUaSettings",
    "OpcUaSource",
    "OpcUaStats",
    "OpcUaUplink",
    "StatusMapping",
    "map_status",
]
