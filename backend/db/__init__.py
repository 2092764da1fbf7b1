"""Postgres: the embedded server, connections, migrations and views."""
