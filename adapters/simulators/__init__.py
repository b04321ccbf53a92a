"""Device simulators driven by profile YAML: Modbus TCP, OPC UA, MQTT and MT/T 1201 files (``santong simulate``).

- :mod:`._profile` — the profile format (device, points, generators, scenarios) and its validation;
- :mod:`._engine` — values, status bits and alarm episodes on a compressible clock;
- :mod:`._runtime` — the update loop, faults and the JSON-lines control API shared by the network simulators;
- :mod:`.modbus`, :mod:`.opcua`, :mod:`.mqtt` (with :class:`~.mqtt.MosquittoBroker`), :mod:`.mtfile`;
- ``profiles/kj-substation.yaml`` — the reference product, a KJ-style safety-monitoring substation.

The protocol modules import pymodbus, asyncua or paho-mqtt; import them directly, e.g.
``from santong.adapters.simulators.modbus import ModbusSimulator``.
"""

from santong.adapters.simulators._profile import (
    Point,
    Profile,
    ProfileError,
    Scenario,
    bundled_profiles,
    load_profile,
    parse_profile,
)
from santong.adapters.simulators._runtime import ControlClient, FaultError

__all__ = [
    "ControlClient",
    "FaultError",
    "Point",
    "Profile",
    "ProfileError",
    "Scenario",
    "bundled_profiles",
    "load_profile",
    "parse_profile",
]
