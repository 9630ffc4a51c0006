"""A strict reader of the Prometheus text format (0.0.4) for the tests: every sample line must
belong to a family announced by # TYPE before it, names and labels must be well formed, and a
family is announced once."""

import re

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE = re.compile(r"^(%s)(\{(.*)\})? (\S+)$" % NAME)
LABEL = re.compile(r'(%s)="((?:[^"\\]|\\.)*)"' % NAME)


def parse(text):
    """Returns {family: {"type": t, "help": h, "samples": [(name, labels dict, float)]}}."""
    families, current = {}, None
    assert text.endswith("\n"), "the exposition must end with a newline"
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            families.setdefault(name, {"type": None, "help": None, "samples": []})
            families[name]["help"] = line.split(" ", 3)[3] if line.count(" ") >= 3 else ""
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "summary", "histogram", "untyped"), line
            fam = families.setdefault(name, {"type": None, "help": None, "samples": []})
            assert fam["type"] is None and not fam["samples"], "TYPE twice for " + name
            fam["type"] = kind
            current = name
            continue
        assert not line.startswith("#") and line.strip(), "unexpected line %r" % line
        m = SAMPLE.match(line)
        assert m, "malformed sample %r" % line
        name, labels_text, value = m.group(1), m.group(3) or "", m.group(4)
        labels = dict(LABEL.findall(labels_text))
        assert current is not None and name.startswith(current), \
            "sample %s outside its family (current %s)" % (name, current)
        families[current]["samples"].append((name, labels, float(value)))
    return families


def value(families, name, **labels):
    for fam in families.values():
        for n, l, v in fam["samples"]:
            if n == name and all(l.get(k) == str(x) for k, x in labels.items()):
                return v
    raise KeyError("%s%r not exposed" % (name, labels))
