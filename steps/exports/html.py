"""The HTML report: the outline as one self-contained page, interactive offline.

plotly.js is inlined once, no URL is fetched, every data-derived string is escaped, and a
Content-Security-Policy forbids any request, so even a string that slipped through could
not call out. The full report rides along as JSON in
`<script type="application/json" id="signoff-report">`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import plotly.io as pio
from plotly.offline import get_plotlyjs

from steps.exports.outline import Section, Table, outline, status_line
from steps.report import Report
from steps.text import html_text

# No request may leave an opened report: scripts and styles are inline, images data: only.
CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; connect-src 'none'; form-action 'none'; "
    "base-uri 'none'"
)
_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:72rem;padding:0 1rem;color:#1b1b1b;line-height:1.45}
h1{font-size:1.6rem;overflow-wrap:anywhere}h2{border-bottom:1px solid #ccc;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0 1rem}caption{text-align:left;font-weight:600}
th,td{border:1px solid #ddd;padding:.25rem .5rem;vertical-align:top;overflow-wrap:anywhere}
th{background:#f4f4f4;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}
dd{margin:0;overflow-wrap:anywhere}.banner{padding:.75rem 1rem;border-radius:4px;font-weight:600}
.draft{background:#fff3cd;border:2px solid #b58100}
.final{background:#e6f4ea;border:1px solid #2e7d32}
.flag{color:#a40000}figure{margin:1rem 0}figcaption{font-weight:600}
"""


def html_report(report: Report, figures: Mapping[str, Any] | None = None) -> bytes:
    figures = dict(figures or {})
    title = f"signoff report: {report.record.source.name}"
    body = [
        _banner(report),
        f"<h1>{html_text(title)}</h1>",
        *(_section(s) for s in outline(report)),
    ]
    if figures:
        body.append(_figures(figures))
    head = [
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{html_text(CSP)}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html_text(title)}</title>",
        f"<style>{_STYLE}</style>",
    ]
    if figures:
        head.append(f"<script>{get_plotlyjs()}</script>")
    data = (
        '<script type="application/json" id="signoff-report">'
        f"{_script_json(report.to_dict())}</script>"
    )
    page = (
        "<!DOCTYPE html>\n"
        f'<html lang="en">\n<head>\n{chr(10).join(head)}\n</head>\n'
        f"<body>\n{chr(10).join(body)}\n{data}\n</body>\n</html>\n"
    )
    return page.encode("utf-8")


def _banner(report: Report) -> str:
    css = "banner final" if report.status == "final" else "banner draft"
    status = html_text(status_line(report))
    return f'<div class="{css}" role="status" id="report-status">{status}</div>'


def _section(section: Section) -> str:
    parts = [f"<section><h2>{html_text(section.title)}</h2>"]
    if section.facts:
        items = "".join(f"<dt>{html_text(k)}</dt><dd>{html_text(v)}</dd>" for k, v in section.facts)
        parts.append(f"<dl>{items}</dl>")
    parts += [_table(t) for t in section.tables]
    if section.bullets:
        parts.append(
            "<ul>" + "".join(f"<li>{html_text(b)}</li>" for b in section.bullets) + "</ul>"
        )
    if section.flagged:
        flags = "".join(f'<li class="flag">{html_text(f)}</li>' for f in section.flagged)
        parts.append(f"<ul>{flags}</ul>")
    parts.append("</section>")
    return "\n".join(parts)


def _table(table: Table) -> str:
    caption = f"<caption>{html_text(table.caption)}</caption>" if table.caption else ""
    head = "".join(f'<th scope="col">{html_text(h)}</th>' for h in table.headers)
    rows = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{html_text(c)}</td>' if num else f"<td>{html_text(c)}</td>"
            for c, num in zip(row, table.numeric, strict=True)
        )
        + "</tr>"
        for row in table.rows
    )
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _figures(figures: Mapping[str, Any]) -> str:
    parts = ["<section><h2>Charts</h2>"]
    for i, (name, figure) in enumerate(figures.items()):
        div = pio.to_html(
            figure,
            full_html=False,
            include_plotlyjs=False,
            div_id=f"figure-{i}",
            config={"displaylogo": False, "showSendToCloud": False},
        )
        parts.append(f"<figure><figcaption>{html_text(name)}</figcaption>{div}</figure>")
    parts.append("</section>")
    return "\n".join(parts)


def _script_json(document: Mapping[str, Any]) -> str:
    """JSON that cannot close its `<script>` element: < > & written as \\u escapes."""
    text = json.dumps(document, ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
