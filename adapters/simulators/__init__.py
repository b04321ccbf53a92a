"""Device simulators driven by profile YAML: Modbus TCP, OPC UA, MQTT and MT/T 1201 files (``santong simulate``)."""

from santong.adapters.simulators._profile import (
    Point,
    Profile,
    ProfileError,
    Scenario,
    bundled_profiles,
    load_profile,
    parse_profile,
)

__all__ = [
    "Point",
    "Profile",
    "ProfileError",
    "Scenario",
    "bundled_profiles",
    "load_profile",
    "parse_profile",
]
