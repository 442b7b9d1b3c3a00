"""Review: gates and decisions, review requests, the analysis registry, kept source files and
the hash-chained audit trail, all in one SQLite file so a hosted team shares them.

`review` may import `steps`; nothing in `steps` imports `review`.
"""
