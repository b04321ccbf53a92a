"""The self-check's defect matrix: every defect of broken_products/device.py and the clause it must be caught on.

Shared by the self-check (tests/conformance/test_selfcheck.py, which runs every defect) and by the computed
coverage test (tests/conformance/test_defect_matrix.py, in `make test`), which fails when a MUST clause that a live
product case judges has no defect here — so the matrix grows with the catalogue.
"""

from __future__ import annotations

import os

#: defect of broken_products/device.py → the clause its certification must fail on, as the root cause: the clause
#: is a root clause of the first group of report.json's ``results.root_causes``. Each is written the way a vendor
#: would plausibly get the clause wrong (device.py's docstring says how).
DEFECTS = {
    "wrong_unit": "ST-DATA-011",
    "bad_point_code": "ST-DATA-002",
    "local_time": "ST-DATA-030",
    "dup_after_reconnect": "ST-PROTO-014",
    "no_backfill": "ST-PROTO-020",
    "retry_invalid": "ST-PROTO-016",
    "heartbeat_when_idle": "ST-PROTO-005",
    "fixed_retry": "ST-PROTO-017",
    "no_clock_sync": "ST-PROTO-007",
    "report_before_define": "ST-PROTO-024",
    "alarm_bit_only": "ST-PROTO-027",
    "no_resume": "ST-PROTO-023",
    "bad_codes_wait_ready": "ST-DATA-002",
    "wrong_identity": "ST-PROTO-029",
    "impossible_value": "ST-DATA-048",
    "memory_queue": "ST-PROTO-021",
    "drop_precondition": "ST-PROTO-016",
    "silent_unknown_setting": "ST-IFACE-011",
    "resend_ack_only": "ST-IFACE-014",
    "deadline_delivered": "ST-PROTO-014",
    "give_up_retries": "ST-PROTO-015",
    "internal_final": "ST-PROTO-015",
    # A buffer smaller than what the retries need: the upload being retried is overwritten, so the first thing
    # the platform sees is an unacknowledged upload that never comes back (not the outage's holes).
    "ring_buffer": "ST-PROTO-015",
    "stalls_offline": "ST-PROTO-018",
    "newest_first": "ST-PROTO-019",
}
#: A product santong started that exits or never becomes ready fails ST-PROTO-030 (not COULD NOT RUN):
#: defect → what the failure must say.
PRODUCT_START = {
    "exit_at_once": "exited before it was ready",
    "crash": "exited mid-run",
}
#: Extra device.py arguments a defect run needs so that what the suite sees first does not depend on chance.
#: ring_buffer: with the random back-off the 6 refused attempts may all fit in ≈ 1 s, before the 3-batch buffer
#: overflows (the retried upload then arrives, and the defect surfaces later, in the outage: ST-PROTO-018/021);
#: the slowest permitted back-off (0.1 + 0.2 + … + 2.0 s = 5.1 s, ≥ 4 batches at 1 s) always overflows it.
DEFECT_ARGS = {"ring_buffer": ("--slow-backoff",)}
#: Defects made by the manifest rather than by --defect: run name → the clause.
MANIFEST_DEFECTS = {"no_test_events": "ST-PROTO-036"}
#: Every defect run → the clause that must be its (first) root cause.
CAUGHT = {**DEFECTS, **dict.fromkeys(PRODUCT_START, "ST-PROTO-030"), **MANIFEST_DEFECTS}
#: For development: SANTONG_SELFCHECK_ONLY=ring_buffer,newest_first runs only these (and the clean device).
ONLY = {x for x in os.environ.get("SANTONG_SELFCHECK_ONLY", "").split(",") if x}
