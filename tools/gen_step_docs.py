"""Write the step section of docs/day-loop.md from ``scorelab.engine.steps.PHASES``.

The section lies between the markers ``<!-- steps:begin -->`` and ``<!-- steps:end -->``;
``tests/test_steps.py`` fails when it is stale.

Usage::

    python tools/gen_step_docs.py          # rewrite the section
    python tools/gen_step_docs.py --check  # exit 1 if it is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

from scorelab.engine.steps import markdown

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "day-loop.md"
BEGIN, END = "<!-- steps:begin -->", "<!-- steps:end -->"
NOTE = "<!-- generated from scorelab/engine/steps.py by tools/gen_step_docs.py: do not edit -->\n"


def render(text: str) -> str:
    """The page with its step section as the table says."""
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{NOTE}{markdown()}{END}{tail}"


def main(argv: list[str]) -> int:
    text = PAGE.read_text()
    new = render(text)
    if "--check" in argv:
        if new != text:
            print(f"{PAGE}: the step section is stale; run python tools/gen_step_docs.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(new)
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
