"""The one composition layer: the only package besides `app.py` that knows `steps`,
`review` and `ai` together.

Both producers — the notebook, cell by cell as gates open, and `python -m steps`, all at
once — build the same typed `steps.record.Record` with the same stage functions
(`flow.stages`), settle gates with the same code (`flow.gates`) and build the report and
its figures with the same calls (`flow.report`). That is why their reports for the same
file and the same answers differ only in when they were made and which gates are signed.
"""
