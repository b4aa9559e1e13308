"""ketasim clinic: a web application for a ketamine clinic (records, alerts, forecasts, reports).

FastAPI + SQLAlchemy 2 + Alembic, server-rendered Jinja2 pages and a JSON API (with FHIR R4 PHQ-9
exchange). Install with ``pip install -e ".[clinic]"``; start with ``ketasim clinic serve --demo``.

Layout (one concept per module):

* ``settings``: the server's configuration (database URL, secret, session lifetime);
* ``db``: engines (SQLite in WAL mode, PostgreSQL), one transaction per write; ``models``: the tables;
  ``migrations``: Alembic scripts shipped in the package;
* ``instruments``: PHQ-9 and GAD-7 item by item (totals computed, never typed);
* ``dose_check``: the one place the clinic calls the project's dose-limit validator;
* ``records``: every read and write of patient data (pages and API call the same functions);
* ``alerts``: item 9, rises, due sessions, relapse risk; ``audit``: the append-only audit log;
* ``forecasting``: the one adapter over ``ketasim.planning``; ``worker``: recomputes forecasts;
* ``security``: passwords (Argon2), sessions, tokens, CSRF, login throttling, roles;
* ``fhir``: PHQ-9 QuestionnaireResponse in and out; ``report``: the plain-language patient report;
* ``chart``: the score chart (SVG); ``demo``: synthetic demo patients; ``backup``: backup and restore;
* ``app``, ``pages``, ``api``: the web application.

Nothing below ``ketasim.clinic`` in the package tree imports it. Research and decision-support
software, not a medical device.
"""
