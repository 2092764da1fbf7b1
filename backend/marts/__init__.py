"""Observability marts: the business calendar and policy targets in SQL, and the refresh of the rollup
tables the dashboards read (`refresh_marts`)."""
