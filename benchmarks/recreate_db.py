"""Drop and create the benchmark database named by DATABASE_URL (never the fund's own)."""

import os
import sys

import dj_database_url
import psycopg

config = dj_database_url.parse(os.environ["DATABASE_URL"])
name = config["NAME"]
if "bench" not in name:
    sys.exit(f"Refusing to recreate {name!r}: benchmark databases must have 'bench' in their name.")
with psycopg.connect(
    host=config["HOST"] or "127.0.0.1",
    port=config["PORT"] or 5432,
    user=config["USER"] or "postgres",
    password=config["PASSWORD"] or None,
    dbname="postgres",
    autocommit=True,
) as conn:
    conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    conn.execute(f'CREATE DATABASE "{name}"')
print(f"database {name} recreated")
