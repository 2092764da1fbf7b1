"""Synthetic support history for demos and benchmarks: `seed_history(conn, tickets=...)`."""
