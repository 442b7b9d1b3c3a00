"""Pure analysis steps: load, overview, quality, statistics, model, recommend, charts, exports.

Nothing here imports marimo, `review` or `ai`; `app.py` and `steps/__main__.py` wire them.
"""
