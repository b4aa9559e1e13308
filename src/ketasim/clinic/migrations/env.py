"""Alembic environment of the clinic: runs the migrations on the connection ``ketasim.clinic.migrate`` passes."""

from __future__ import annotations

from alembic import context

from ketasim.clinic.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - the clinic always passes its connection
    raise RuntimeError("run the clinic's migrations through ketasim.clinic.migrate (ketasim clinic init)")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
