"""santong.load — ``santong load``: province-scale device load on Locust, a verdict, and the capacity model.

- :mod:`._scenario` — the scenario file (JSON Schema, errors with file:line and the fix), device credentials;
- :mod:`._devices` — what one device sends (identity, point definitions, batches from a simulator profile);
- :mod:`._cmd` — the command: credentials on the mock, Locust processes (standalone, master + workers), verdict;
- ``locustfile.py`` — the Locust users; imported only inside Locust's processes (gevent), never by santong.

See docs/load.md.
"""
