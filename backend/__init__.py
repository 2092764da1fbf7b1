"""tier0: a support inbox becomes classified, routed and measured tickets in Postgres."""
