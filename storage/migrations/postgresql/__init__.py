"""PostgreSQL migrations, numbered like the SQLite ones beside them."""
