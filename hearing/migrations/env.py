"""Alembic environment: the engine is handed in by hearing.db (no alembic.ini needed).

On SQLite a migration that alters a table rebuilds it (copy, drop, rename); with rows of other
tables pointing at it, the drop would fail the foreign keys half-way, so they are switched off
for the migration (outside its transaction, where SQLite allows it) and checked after it."""

from alembic import context

from hearing.models import Base

engine = context.config.attributes["engine"]
sqlite = engine.dialect.name == "sqlite"
with engine.connect() as connection:
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    with connection.begin():
        context.configure(connection=connection, target_metadata=Base.metadata,
                          render_as_batch=sqlite)
        context.run_migrations()
    if sqlite:
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()
        if broken:
            raise RuntimeError(f"the migration left rows pointing nowhere: {broken[:5]}")
