"""Build the addon's README.rst from its readme/ fragments, as OCA's
oca-gen-addon-readme does; `--check` fails when README.rst is out of date.

    python3 scripts/addon_readme.py [--check]

The fragments are Markdown of a small subset: paragraphs, `-` and `1.` lists,
**bold**, *italic*, `code` and [links](url). Standard library only.
"""

import ast
import pathlib
import re
import sys

ADDON = pathlib.Path(__file__).resolve().parent.parent / "openbanking_bridge"
SECTIONS = (
    ("DESCRIPTION.md", None),
    ("CONFIGURE.md", "Configuration"),
    ("USAGE.md", "Usage"),
)
COMMENT = """..
   Built by scripts/addon_readme.py from the fragments in readme/:
   change them, then run it."""
BADGE = """.. |badge1| image:: https://img.shields.io/badge/licence-LGPL--3-blue.png
    :target: http://www.gnu.org/licenses/lgpl-3.0-standalone.html
    :alt: License: LGPL-3

|badge1|"""
LINK = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")
CODE = re.compile(r"`([^`]+)`")


def to_rst(markdown):
    """Turn the Markdown subset of the fragments into reStructuredText."""
    text = CODE.sub(r"``\1``", markdown.strip())
    return LINK.sub(r"`\1 <\2>`_", text)


def title(text, char, overline=False):
    rule = char * len(text)
    return f"{rule}\n{text}\n{rule}" if overline else f"{text}\n{rule}"


def build():
    manifest = ast.literal_eval((ADDON / "__manifest__.py").read_text("utf-8"))
    parts = [title(manifest["name"], "=", overline=True), COMMENT, BADGE]
    for filename, heading in SECTIONS:
        path = ADDON / "readme" / filename
        if not path.exists():
            continue
        if heading is None:
            parts += [to_rst(path.read_text("utf-8")), "**Table of contents**"]
            parts.append(".. contents::\n   :local:")
        else:
            parts += [title(heading, "="), to_rst(path.read_text("utf-8"))]
    parts += [title("Credits", "="), title("Authors", "-"), f"* {manifest['author']}"]
    return "\n\n".join(parts) + "\n"


def main(argv):
    target = ADDON / "README.rst"
    text = build()
    if "--check" in argv:
        if not target.exists() or target.read_text("utf-8") != text:
            print(
                "openbanking_bridge/README.rst is out of date: "
                "run python3 scripts/addon_readme.py",
                file=sys.stderr,
            )
            return 1
        return 0
    target.write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
