"""santong.adapters."""
