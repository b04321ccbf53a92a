"""santong.adapters.mqtt — vendor JSON over MQTT through paho-mqtt (``adapter.kind: mqtt``).

Files as in every adapter: ``config.py`` (settings and point source), ``converter.py`` (the path syntax,
timestamps, quality, rejections), ``adapter.py`` (subscriptions, manual acknowledgement after the durable queue,
reconnects). Needs the ``mqtt`` extra: ``pip install 'santong[mqtt]'``.
"""

from santong.adapters.mqtt.adapter import MqttAdapter, MqttStats
from santong.adapters.mqtt.config import DEFAULT_QUALITY_MAP, MqttSettings, MqttSource
from santong.adapters.mqtt.converter import (
    JsonPath,
    Message,
    MqttUplink,
    PathError,
    parse_time,
    topic_matches,
)

__all__ = [
    "DEFAULT_QUALITY_MAP",
    "JsonPath",
    "Message",
    "MqttAdapter",
    "MqttSettings",
    "MqttSource",
    "MqttStats",
    "MqttUplink",
    "PathError",
    "parse_time",
    "topic_matches",
]
