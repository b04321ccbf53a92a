"""santong.protocols — the 三统一 interface as code."""
