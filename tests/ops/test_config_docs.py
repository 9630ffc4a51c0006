"""Every option of both binaries is documented in docs/configuration.md with its real default,
and the documentation names no option the binaries do not have. The binaries' side comes from
`--help` (one `--name ... (default: X)` entry per option of the option table)."""

import os
import re
import subprocess

import pytest

from conftest import L2_BIN, REPO, SIDECAR_BIN, clean_env

DOC = os.path.join(REPO, "docs", "configuration.md")
UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1024, "kib": 1024, "m": 1000 ** 2, "mb": 1024 ** 2,
         "mib": 1024 ** 2, "g": 1000 ** 3, "gb": 1024 ** 3, "gib": 1024 ** 3}
NOT_OPTIONS = {"help", "config", "version"}


def help_options(binary):
    """{name: default} from `binary --help`."""
    out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=10,
                         env=clean_env()).stdout
    options, name = {}, None
    for line in out.splitlines():
        m = re.match(r"^\s+(?:-\w,)?--([a-z0-9-]+)\b", line)
        if m:
            name = m.group(1)
        if name and name not in NOT_OPTIONS:
            d = re.search(r"default: ?(.*?)\)?\s*$", line)
            if d:
                options[name] = d.group(1)
                name = None
    return options


def doc_options(section):
    """{name: default} from the table under `## <section>` in docs/configuration.md."""
    text = open(DOC).read()
    m = re.search(r"^## %s\s*$(.*?)(?=^## |\Z)" % re.escape(section), text, re.M | re.S)
    assert m, "docs/configuration.md has no section '## %s'" % section
    options = {}
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        name = cells[0].strip("`")
        assert name not in options, "%s documented twice in %s" % (name, section)
        options[name] = cells[1]
    return options


def normalize(value):
    """Doc and help defaults to one form: sizes in bytes, '(none)'-style markers empty."""
    v = value.strip().strip("`")
    if re.fullmatch(r"\(.*\)", v):
        return ""
    m = re.fullmatch(r"(\d+)\s*([a-zA-Z]*)", v)
    if m and m.group(2).lower() in UNITS:
        digits = m.group(1)
        if m.group(2) == "" and len(digits) > 1 and digits.startswith("0"):
            return digits  # a file mode: 0660
        return str(int(digits) * UNITS[m.group(2).lower()])
    return v


@pytest.mark.parametrize("binary,section", [(L2_BIN, "tiercache-l2"),
                                            (SIDECAR_BIN, "tiercache-sidecar")])
def test_documented_options_match_the_binary(binary, section):
    code = help_options(binary)
    doc = doc_options(section)
    assert len(code) > 10, "could not read the options from %s --help" % binary
    missing = sorted(set(code) - set(doc))
    unknown = sorted(set(doc) - set(code))
    assert not missing, "options of %s not documented in docs/configuration.md: %s" % (
        section, missing)
    assert not unknown, "docs/configuration.md documents options %s does not have: %s" % (
        section, unknown)
    wrong = {n: (doc[n], code[n]) for n in code if normalize(doc[n]) != normalize(code[n])}
    assert not wrong, "documented defaults differ (doc, binary): %s" % wrong


def test_normalize():
    assert normalize("`512MiB`") == str(512 << 20) == normalize("536870912")
    assert normalize("`64m`") == "64000000"
    assert normalize("(none)") == "" == normalize("(stderr)") == normalize("")
    assert normalize("`0660`") == "0660" and normalize("`700`") == "700"
    assert normalize("`allkeys-lru`") == "allkeys-lru"
