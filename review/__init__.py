"""Review: gates and decisions, review requests, the analysis registry, kept source files and
the hash-chained audit trail, all in one review database (a SQLite file, or PostgreSQL for
several servers) so a hosted team shares them.

`review` may import `steps`; nothing in `steps` imports `review`.
"""
