"""santong — 三统一 device-access interface toolkit."""

__version__ = "0.1.0"
