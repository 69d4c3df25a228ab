"""users found by a middle substring without reading every user: a trigram index of names
and usernames (SQLite: an FTS5 table kept in step by triggers; PostgreSQL: pg_trgm GIN
indexes), and users listed newest first from an index

A later migration that rebuilds `users` on SQLite (a batch ALTER) drops the triggers with the
old table: it must create them again (see TRIGGERS); test_admin_console's middle-substring
/find test fails until it does.

Revision ID: 0020
Revises: 0021
Create Date: 2026-12-07 12:40:00
"""

import logging
from collections.abc import Sequence

from alembic import op
from sqlalchemy.exc import DBAPIError

revision: str = "0020"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGGERS = {
    "users_fts_insert": (
        "AFTER INSERT ON users BEGIN "
        "INSERT INTO users_fts (rowid, first_name, username) "
        "VALUES (new.id, new.first_name, new.username); END"
    ),
    "users_fts_delete": "AFTER DELETE ON users BEGIN DELETE FROM users_fts WHERE rowid = old.id; END",
    "users_fts_update": (
        "AFTER UPDATE OF id, first_name, username ON users BEGIN "
        "UPDATE users_fts SET rowid = new.id, first_name = new.first_name, "
        "username = new.username WHERE rowid = old.id; END"
    ),
}
TRIGRAM_INDEXES = {"ix_users_first_name_trgm": "first_name", "ix_users_username_trgm": "username"}

log = logging.getLogger(__name__)


def upgrade() -> None:
    op.create_index("ix_users_created_at", "users", ["created_at", "id"])
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        try:
            with bind.begin_nested():  # a user who may not create extensions keeps going
                bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except DBAPIError as error:
            log.warning("no pg_trgm (%s): /find reads every user", type(error.orig).__name__)
            return
        for name, column in TRIGRAM_INDEXES.items():
            op.execute(f"CREATE INDEX {name} ON users USING gin (lower({column}) gin_trgm_ops)")
        return
    # case_sensitive 0: folded as lower() folds names for LIKE (Cyrillic included)
    op.execute(
        "CREATE VIRTUAL TABLE users_fts USING fts5("
        "first_name, username, tokenize = 'trigram case_sensitive 0')"
    )
    op.execute(
        "INSERT INTO users_fts (rowid, first_name, username) "
        "SELECT id, first_name, username FROM users"
    )
    for name, body in TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in TRIGRAM_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
    else:
        for name in TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE users_fts")
    op.drop_index("ix_users_created_at", "users")
