#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Makes a man page of one of the reStructuredText pages in docs/.

  man.py RST2MAN INPUT.rst OUTPUT NAME SECTION VERSION

The page's own title ("NAME – what it does") becomes the man page's name and
description, with the section and version as docinfo for rst2man; the
Sphinx-only role :ref:`text<label>` becomes its plain text, which docutils
alone does not know. The rest goes to rst2man (python3-docutils) unchanged.
"""

import os
import re
import subprocess
import sys
import tempfile


def convert(text, name, section, version):
    lines = text.split("\n")
    # The first title: a text line followed by a line of '=' of its length.
    for i in range(len(lines) - 1):
        if lines[i].strip() and re.fullmatch(r"=+", lines[i + 1].strip()):
            break
    else:
        raise SystemExit("man.py: no title in the page")
    title = lines[i]
    body = lines[i + 2:]
    desc = re.split(r"\s+[–-]\s+", title, maxsplit=1)
    desc = desc[1] if len(desc) > 1 else title
    desc = desc.replace("``", "")
    head = [
        "=" * len(name), name, "=" * len(name),
        "", "-" * len(desc), desc, "-" * len(desc), "",
        ":Manual section: %s" % section,
        ":Manual group: Knot DNS module mod-tgcluster",
        ":Version: %s" % version,
        "",
    ]
    # A label of this page names the title that follows it.
    titles = {}
    for j, line in enumerate(lines):
        m = re.fullmatch(r"\.\. _([\w-]+):", line.strip())
        if m:
            rest = [l for l in lines[j + 1:j + 4] if l.strip()]
            if rest:
                titles[m.group(1)] = '"%s"' % rest[0].strip().replace("``", "")
    out = "\n".join(head + body)
    # :ref:`text <label>` -> text, :ref:`label` -> its title (or the label)
    out = re.sub(r":ref:`([^`<]*?)\s*<[^`>]*>`", r"\1", out)
    out = re.sub(r":ref:`([^`]*)`",
                 lambda m: titles.get(m.group(1), m.group(1)), out)
    return out


def main(argv):
    if len(argv) != 7:
        raise SystemExit(__doc__)
    rst2man, src, dst, name, section, version = argv[1:]
    with open(src, encoding="utf-8") as f:
        text = convert(f.read(), name, section, version)
    with tempfile.NamedTemporaryFile("w", suffix=".rst", encoding="utf-8",
                                     delete=False) as tmp:
        tmp.write(text)
    try:
        # Warnings are errors: a page that docutils misreads fails the build.
        subprocess.run([rst2man, "--halt=warning", "--no-generator",
                        "--no-datestamp", tmp.name, dst], check=True)
    finally:
        os.unlink(tmp.name)


if __name__ == "__main__":
    main(sys.argv)
