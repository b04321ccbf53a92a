"""santong.conformance."""
