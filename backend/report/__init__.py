"""The static HTML report: every dashboard card's SQL run against Postgres, drawn as one self-contained page."""
