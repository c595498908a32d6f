#!/usr/bin/env python3
"""Checks every relative link of the repository's Markdown documentation.

Reads README.md, ARCHITECTURE.md, BENCHMARKS.md and docs/*.md, finds each
relative link and image (inline `[text](target)`, `![alt](target)`, and
reference definitions `[name]: target`) outside code blocks and code spans,
and fails, listing them, when a target is outside the repository, names a
file or folder that does not exist, or carries a `#fragment` that names no
heading of the target Markdown file (GitHub's anchors: the heading's text
lowercased, punctuation dropped, spaces as hyphens, `-1`, `-2`… for repeats).
A fragment on another kind of file may only be a line anchor (`#L10`,
`#L10-L20`). Absolute URLs (`https:`, `mailto:`…) are not checked.

Python 3 standard library only. Exit status 0 when every link resolves,
1 otherwise.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = ["README.md", "ARCHITECTURE.md", "BENCHMARKS.md", "docs/*.md"]

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
# `[text](target "title")` and `![alt](target)`; the text may hold one level
# of brackets (`[`code` [x]](…)`).
INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?\s*\)")
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
HTML_ANCHOR = re.compile(r"""<a\s[^>]*(?:name|id)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
LINE_ANCHOR = re.compile(r"^L\d+(-L\d+)?$")


def documents() -> list[Path]:
    found: list[Path] = []
    for pattern in DOCUMENTS:
        found.extend(sorted(ROOT.glob(pattern)))
    return [path for path in found if path.is_file()]


def prose_lines(text: str):
    """(line number, line) for every line outside fenced code blocks."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        opened = FENCE.match(line)
        if fence is None:
            if opened:
                fence = opened.group(1)
                continue
            yield number, line
        elif opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
            fence = None


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text."""
    text = CODE_SPAN.sub(lambda m: m.group(2), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links keep their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.lower()
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if char in " -_" or category[0] in "LN" or category == "Mn":
            kept.append(char)
    return "".join(kept).replace(" ", "-")


def anchors(path: Path, cache: dict[Path, set[str]]) -> set[str]:
    if path not in cache:
        seen: dict[str, int] = {}
        names: set[str] = set()
        text = path.read_text(encoding="utf-8")
        for _, line in prose_lines(text):
            heading = HEADING.match(line)
            if heading:
                base = slug(heading.group(2))
                count = seen.get(base, 0)
                seen[base] = count + 1
                names.add(base if count == 0 else f"{base}-{count}")
            names.update(HTML_ANCHOR.findall(line))
        cache[path] = names
    return cache[path]


def links(path: Path):
    """(line number, target) for every link of a document."""
    text = path.read_text(encoding="utf-8")
    for number, line in prose_lines(text):
        definition = REFERENCE.match(line)
        if definition:
            yield number, definition.group(1)
            continue
        # Code spans are not links: blank them out, keeping the columns.
        bare = CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)
        for match in INLINE.finditer(bare):
            yield number, match.group(1)


def problem(source: Path, target: str, cache: dict[Path, set[str]]) -> str | None:
    target = target.strip()
    if target.startswith("<") and target.endswith(">"):
        target = target[1:-1]
    if not target or SCHEME.match(target) or target.startswith("//"):
        return None
    file_part, _, fragment = target.partition("#")
    file_part = unquote(file_part.split("?", 1)[0])
    fragment = unquote(fragment)
    if file_part.startswith("/"):
        resolved = (ROOT / file_part.lstrip("/")).resolve()
    elif file_part:
        resolved = (source.parent / file_part).resolve()
    else:
        resolved = source
    if resolved != ROOT and ROOT not in resolved.parents:
        return "points outside the repository"
    if not resolved.exists():
        return "no such file or folder"
    if not fragment:
        return None
    if resolved.is_file() and resolved.suffix.lower() in (".md", ".markdown"):
        if fragment.lower() not in anchors(resolved, cache):
            return f"no heading #{fragment} in {resolved.relative_to(ROOT)}"
        return None
    if resolved.is_file() and LINE_ANCHOR.match(fragment):
        return None
    return f"#{fragment} is not a heading of a Markdown file nor a line anchor"


def main() -> int:
    cache: dict[Path, set[str]] = {}
    broken: list[str] = []
    checked = 0
    files = documents()
    for source in files:
        for number, target in links(source):
            checked += 1
            why = problem(source, target, cache)
            if why:
                broken.append(f"{source.relative_to(ROOT)}:{number}: {target}: {why}")
    if broken:
        print(f"{len(broken)} broken relative link(s):", file=sys.stderr)
        for line in broken:
            print(f"  {line}", file=sys.stderr)
        return 1
    print(f"{checked} links in {len(files)} documents: every relative one resolves")
    return 0


if __name__ == "__main__":
    sys.exit(main())
