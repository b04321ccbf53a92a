"""santong.mock_platform."""
