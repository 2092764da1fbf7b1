"""Metabase dashboards as code: definitions in metabase/ (YAML), pushed idempotently through the REST API."""
