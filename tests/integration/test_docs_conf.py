# SPDX-License-Identifier: GPL-3.0-or-later
"""Every knot.conf example of README.md and docs/*.rst passes knotc conf-check
in the setup it is written for.

Extraction: the fenced blocks of README.md and the literal blocks (``::``) of
docs/*.rst. A block is a knot.conf example when one of its top-level keys is
a section only knot.conf has (``module``, ``mod-tgcluster``, ``zone``,
``remote``, ...); unbound's ``server:``/``forward-zone:`` blocks are not. A
block preceded by the comment ``docs-conf-check: skip`` (an rst comment
``.. docs-conf-check: skip``, in Markdown ``<!-- docs-conf-check: skip -->``)
is not a configuration (the item synopsis).

Setup: an example with a ``module:`` section loads the module by path (a
build directory or any other directory); the test points its ``file:`` at the
build's module and runs conf-check with knotd's module directory hidden (an
empty directory mounted over it in a private mount namespace), so an
installed copy cannot help or hurt. An example without ``module:`` is written
for an installed module (the package or ``meson install``): knotd 3.2 has no
option to load modules from another directory (``-m`` is the configuration
size; the module directory is compiled in), so the test makes the build's
module appear in that directory in a private mount namespace (a read-only
overlay of the build's copy over the real directory) and conf-checks the
example unchanged, exactly as knotd finds an installed copy. Nothing outside
the namespace changes. The namespace needs root (CAP_SYS_ADMIN); without it
the test fails with that reason rather than checking something else.

Controls (so that a pass means something): in the installed setup a
configuration that also declares ``module:`` fails with "duplicate module"
(the overlay is seen), and without the overlay an installed-style example
fails (the overlay is what makes it pass).
"""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

import tgc

DOCS = [os.path.join(tgc.REPO, "README.md")] + sorted(
    os.path.join(tgc.REPO, "docs", f)
    for f in os.listdir(os.path.join(tgc.REPO, "docs")) if f.endswith(".rst"))

# Top-level sections that only a knot.conf has (unbound has server: too).
KNOT_SECTIONS = {"module", "mod-tgcluster", "zone", "template", "remote",
                 "acl", "key", "control", "database", "keystore",
                 "submission"}
SKIP_MARK = "docs-conf-check: skip"
# Fewest examples each file must yield: a markup change that hides the
# examples from the extractor fails instead of passing with nothing checked.
MIN_EXAMPLES = {"README.md": 2, "mod-tgcluster.rst": 6, "deployment.rst": 4}


def _dedent(lines):
    ind = min((len(l) - len(l.lstrip()) for l in lines if l.strip()),
              default=0)
    return [l[ind:] for l in lines]


def _rst_blocks(text):
    """(line number, lines) of each literal block, with its skip mark."""
    lines = text.split("\n")
    out = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.rstrip().endswith("::") and not line.lstrip().startswith(".. _"):
            # The skip mark is an rst comment within the three lines above.
            skip = any(SKIP_MARK in l for l in lines[max(0, i - 3):i + 1])
            # The block is indented more than the paragraph ending in "::"
            # (which may itself sit in a list item) and ends before the first
            # line that is not.
            para = len(line) - len(line.lstrip())
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            start = j
            while j < len(lines) and (
                    not lines[j].strip()
                    or len(lines[j]) - len(lines[j].lstrip()) > para):
                j += 1
            block = lines[start:j]
            while block and not block[-1].strip():
                block.pop()
            if block:
                out.append((start + 1, _dedent(block), skip))
            i = j
        else:
            i += 1
    return out


def _md_blocks(text):
    lines = text.split("\n")
    out = []
    i = 0
    while i < len(lines):
        if lines[i].startswith("```"):
            skip = i > 0 and SKIP_MARK in lines[i - 1]
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            out.append((i + 2, lines[i + 1:j], skip))
            i = j + 1
        else:
            i += 1
    return out


def top_keys(lines):
    return [m.group(1) for m in (re.match(r"([A-Za-z][\w-]*):", l)
                                 for l in lines) if m]


def examples(path):
    """[(where, text, by_path)] of the knot.conf examples in one file."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    blocks = _md_blocks(text) if path.endswith(".md") else _rst_blocks(text)
    out = []
    for lineno, lines, skip in blocks:
        keys = top_keys(lines)
        if skip or not KNOT_SECTIONS.intersection(keys):
            continue
        where = "%s:%d" % (os.path.relpath(path, tgc.REPO), lineno)
        out.append((where, "\n".join(lines) + "\n", "module" in keys))
    return out


def point_at_build(text):
    """The example with its module section's file: set to the build's module."""
    lines = text.split("\n")
    in_module = False
    n = 0
    for i, line in enumerate(lines):
        m = re.match(r"([A-Za-z][\w-]*):", line)
        if m:
            in_module = m.group(1) == "module"
        elif in_module:
            f = re.match(r"(\s*(?:-\s+)?file:\s*)\S+(.*)$", line)
            if f:
                lines[i] = '%s"%s"%s' % (f.group(1), tgc.MODULE, f.group(2))
                n += 1
    return "\n".join(lines), n


class Namespace:
    """knotc conf-check in a private mount namespace where knotd's module
    directory holds exactly what the test puts there."""

    def __init__(self, tmp):
        self.tmp = tmp
        mdir = tgc.MODULE_DIR
        base = mdir
        while not os.path.isdir(base):
            base = os.path.dirname(base)
        self.base = base
        # Lower layer: the module directory's path below base, holding a copy
        # of the build's module.
        self.lower = os.path.join(tmp, "lower")
        inside = os.path.join(self.lower, os.path.relpath(mdir, base))
        os.makedirs(inside)
        shutil.copy2(tgc.MODULE, os.path.join(inside, "mod-tgcluster.so"))
        self.empty = os.path.join(tmp, "empty")
        os.makedirs(self.empty)

    def conf_check(self, conf, installed):
        """(returncode, output) of conf-check of file \\a conf; installed:
        the build's module appears in the module directory; otherwise the
        module directory is empty."""
        mdir = tgc.MODULE_DIR
        if installed:
            mount = ("mount -t overlay overlay -o ro,lowerdir=%s:%s %s"
                     % (self.lower, self.base, self.base))
        elif os.path.isdir(mdir):
            mount = "mount --bind %s %s" % (self.empty, mdir)
        else:
            mount = "true"
        script = ('%s || exit 90\n'
                  'if [ -n "$2" ]; then export LD_PRELOAD="$2"; fi\n'
                  'exec "$1" -c "$3" conf-check\n' % mount)
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        p = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             script, "sh", tgc.KNOTC, tgc.PRELOAD, conf],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, timeout=60)
        return p.returncode, p.stdout


class DocsConfTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise SystemExit("test_docs_conf needs root: it conf-checks in a"
                             " private mount namespace (unshare, mount)")
        cls.tmp = tempfile.mkdtemp(prefix="tgc-docs-")
        cls.ns = Namespace(cls.tmp)
        cls.examples = []
        for path in DOCS:
            cls.examples += [(os.path.basename(path),) + e
                             for e in examples(path)]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def test_extraction_finds_examples(self):
        """Each documented file yields its examples, in both setups."""
        for name, least in MIN_EXAMPLES.items():
            got = [e for e in self.examples if e[0] == name]
            self.assertGreaterEqual(len(got), least,
                                    "%s: %d knot.conf examples found"
                                    % (name, len(got)))
        self.assertTrue(any(e[3] for e in self.examples),
                        "no example loads the module by path")
        self.assertTrue(any(not e[3] for e in self.examples),
                        "no example is written for an installed module")

    def test_examples_conf_check(self):
        """Every example passes conf-check in its own setup."""
        for i, (_, where, text, by_path) in enumerate(self.examples):
            with self.subTest(where=where,
                              setup="by path" if by_path else "installed"):
                if by_path:
                    text, n = point_at_build(text)
                    self.assertGreater(n, 0, "%s: module: section without"
                                       " a file: line" % where)
                conf = self.write("ex%d.conf" % i, text)
                rc, out = self.ns.conf_check(conf, installed=not by_path)
                self.assertNotEqual(rc, 90, "mount failed: %s" % out)
                self.assertEqual(rc, 0, "%s (%s):\n%s\n%s" % (
                    where, "by path" if by_path else "installed", out, text))

    def test_installed_setup_is_real(self):
        """The overlay is what an installed copy looks like to knotc: a
        module: section then collides, and without the overlay an
        installed-style example does not pass."""
        installed = [e for e in self.examples if not e[3]]
        self.assertTrue(installed)
        _, where, text, _ = installed[0]
        conf = self.write("plain.conf", text)
        rc, out = self.ns.conf_check(conf, installed=False)
        self.assertNotEqual(rc, 0, "%s passed without the module:\n%s"
                            % (where, out))
        both = self.write("both.conf", 'module:\n  - id: mod-tgcluster\n'
                          '    file: "%s"\n%s' % (tgc.MODULE, text))
        rc, out = self.ns.conf_check(both, installed=True)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("duplicate module", out)


if __name__ == "__main__":
    # Not tgc.main(): an installed copy does not disturb this test (the
    # namespaces hide or replace it), so it is not refused here.
    if not os.path.exists(tgc.MODULE):
        raise SystemExit("mod-tgcluster module not found: %s (set TGC_MODULE)"
                         % tgc.MODULE)
    unittest.main(verbosity=2)
