"""Escalation: the SLA monitor (warnings, breaches, automatic escalation of a breached ticket),
escalating and re-assigning a ticket with its history (`actions.py`), and suggesting to whom a
ticket should go next (`suggest.py`)."""
