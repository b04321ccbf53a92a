"""A pytest plugin for tests that need the suite's selection without running it (``-p sc_collect_plugin``).

At the end of ``pytest --collect-only`` it writes JSON to ``$SC_COLLECT_OUT``: every collected case with its
markers, and — when a santong run is active (``--santong-manifest``) — the cases it selected and the ones it
deselected, with the reasons.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

_items: list[dict[str, Any]] = []


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Record every case before the santong session deselects any."""
    for it in items:
        _items.append(
            {
                "id": it.nodeid,
                "clauses": [a for m in it.iter_markers("clause") for a in m.args],
                "features": [a for m in it.iter_markers("feature") for a in m.args],
                "subject": next((m.args[0] for m in it.iter_markers("subject") if m.args), "product"),
                "inspection": any(True for _ in it.iter_markers("inspection")),
            }
        )


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write what was collected and selected."""
    from santong.conformance.plugin import session_of

    s = session_of(session.config)
    out: dict[str, Any] = {"items": _items, "selected": None, "deselected": None}
    if s is not None:
        out["selected"] = [{"id": c.id, "clauses": list(c.clauses)} for c in s.cases.values()]
        out["deselected"] = [d.as_dict() for d in s.deselected]
        out["profile"] = s.profile.name
        out["product_class"] = s.manifest.product_class
        out["features"] = sorted(s.manifest.features)
    with open(os.environ["SC_COLLECT_OUT"], "w", encoding="utf-8") as f:
        json.dump(out, f)
