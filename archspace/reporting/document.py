"""`archspace report`: one Markdown and one HTML page per run, from the same list of blocks."""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Sequence

import pandas as pd


@dataclass(frozen=True)
class Block:
    """A heading, paragraph, bullet list, table, image or code line of the report."""

    kind: str
    text: str = ""
    rows: tuple = ()
    columns: tuple = ()
    level: int = 2


def heading(text: str, level: int = 2) -> Block:
    return Block("h", text, level=level)


def para(text: str) -> Block:
    return Block("p", text)


def bullets(items: Sequence[str]) -> Block:
    return Block("ul", rows=tuple(items))


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Block:
    return Block("table", rows=tuple(tuple(r) for r in rows), columns=tuple(columns))


def image(path: str, alt: str) -> Block:
    return Block("img", path, columns=(alt,))


def code(text: str) -> Block:
    return Block("code", text)


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def to_markdown(title: str, blocks: Sequence[Block]) -> str:
    out = [f"# {title}", ""]
    for b in blocks:
        if b.kind == "h":
            out += ["#" * b.level + " " + b.text, ""]
        elif b.kind == "p":
            out += [b.text, ""]
        elif b.kind == "ul":
            out += [f"- {item}" for item in b.rows] + [""]
        elif b.kind == "table":
            out.append("| " + " | ".join(b.columns) + " |")
            out.append("|" + "|".join("---" for _ in b.columns) + "|")
            out += ["| " + " | ".join(_cell(v).replace("|", "\\|") for v in r) + " |" for r in b.rows]
            out.append("")
        elif b.kind == "img":
            out += [f"![{b.columns[0]}]({b.text})", ""]
        elif b.kind == "code":
            out += ["```", b.text, "```", ""]
    return "\n".join(out)


def to_html(title: str, blocks: Sequence[Block]) -> str:
    esc = html.escape
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>",
           "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.45}"
           "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
           "td:first-child,th:first-child{text-align:left}img{max-width:100%}pre{background:#f4f4f4;padding:.6em}</style>"
           "</head><body>", f"<h1>{esc(title)}</h1>"]
    for b in blocks:
        if b.kind == "h":
            out.append(f"<h{b.level}>{esc(b.text)}</h{b.level}>")
        elif b.kind == "p":
            out.append(f"<p>{esc(b.text)}</p>")
        elif b.kind == "ul":
            out.append("<ul>" + "".join(f"<li>{esc(i)}</li>" for i in b.rows) + "</ul>")
        elif b.kind == "table":
            head = "".join(f"<th>{esc(c)}</th>" for c in b.columns)
            body = "".join("<tr>" + "".join(f"<td>{esc(_cell(v))}</td>" for v in r) + "</tr>" for r in b.rows)
            out.append(f"<table><tr>{head}</tr>{body}</table>")
        elif b.kind == "img":
            interactive = b.text.removesuffix(".png") + ".html"
            out.append(f"<p><a href='{esc(interactive)}'><img src='{esc(b.text)}' alt='{esc(b.columns[0])}'></a>"
                       f"<br><small>click for the interactive version</small></p>")
        elif b.kind == "code":
            out.append(f"<pre>{esc(b.text)}</pre>")
    out.append("</body></html>")
    return "\n".join(out)
