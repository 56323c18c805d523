"""Storage: the interaction log, feedback, processed events and users' chosen schools.

`Store` talks to the database (SQLite file by default, PostgreSQL for replicas) through SQLAlchemy Core;
`Recorder` sits in front of it so that answering never waits for, or fails with, the database.
"""

from bot.records import Feedback, Interaction
from bot.store.recorder import Recorder
from bot.store.store import Store, database_url_for, open_store

__all__ = ["Feedback", "Interaction", "Recorder", "Store", "database_url_for", "open_store"]
