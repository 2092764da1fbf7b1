"""Reports read from the SQL views (the same views Metabase and Retool read)."""
