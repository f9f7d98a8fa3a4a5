"""Tables as text: Markdown for the reports, fixed-width for the terminal."""


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown (GitHub) table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def plain_table(headers: list[str], rows: list[list[str]]) -> str:
    """A fixed-width text table (for the terminal)."""
    cells = [headers, *rows]
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
