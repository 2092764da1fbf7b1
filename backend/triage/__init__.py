"""Triage: split an email into requests and classify each (category, product area, signals)."""
