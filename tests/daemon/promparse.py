"""promparse — a strict parser for the Prometheus text exposition format 0.0.4.

It checks the grammar exactly rather than leniently:

  * lines end in '\\n', including the last one; empty lines are ignored;
  * `# HELP name text` (text escapes: only \\\\ and \\n) and
    `# TYPE name counter|gauge|histogram|summary|untyped`, at most one of
    each per family, both before the family's first sample; other `#` lines
    are comments;
  * samples: `name{label="value",...} value [timestamp]` with metric names
    [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* (not
    starting with `__`), label values escaped with \\\\, \\" and \\n only, no
    repeated label name, values Go-style floats including NaN, +Inf, -Inf,
    an optional integer timestamp in milliseconds;
  * the samples of one family are contiguous, and no series (name and label
    set) appears twice;
  * histogram and summary samples use the family name with their suffixes.

With project=True (the default) it also enforces this project's
conventions: every family has HELP and TYPE, counters are named *_total and
are never negative.

parse(text) returns an Exposition; any violation raises ParseError naming
the line.
"""

import math
import re

METRIC_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL_NAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
METRIC_NAME_RE = re.compile(METRIC_NAME + r"\Z")
LABEL_NAME_RE = re.compile(LABEL_NAME + r"\Z")
FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
TIMESTAMP_RE = re.compile(r"-?[0-9]+\Z")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


class ParseError(Exception):
    def __init__(self, lineno, line, message):
        super().__init__(f"line {lineno}: {message}: {line!r}")
        self.lineno = lineno
        self.line = line


class Family:
    def __init__(self, name):
        self.name = name
        self.help = None
        self.type = None
        self.samples = []          # [(name, {labels}, value, timestamp)]


class Exposition:
    def __init__(self):
        self.families = {}         # name -> Family, in order of appearance
        self.samples = {}          # (name, frozenset(labels.items())) -> value

    def value(self, name, **labels):
        return self.samples.get((name, frozenset(labels.items())))

    def series(self, name):
        """[(labels dict, value)] of every sample named NAME."""
        return [(dict(k[1]), v) for k, v in self.samples.items() if k[0] == name]


def parse_float(text):
    """A sample value as Go's strconv.ParseFloat accepts it in practice."""
    if text == "NaN":
        return math.nan
    if text in ("+Inf", "Inf"):
        return math.inf
    if text == "-Inf":
        return -math.inf
    if not FLOAT_RE.match(text):
        raise ValueError(f"not a float: {text!r}")
    return float(text)


def _unescape_help(text, lineno, line):
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text) or text[i + 1] not in "\\n":
                raise ParseError(lineno, line, "invalid escape in HELP text")
            out.append("\\" if text[i + 1] == "\\" else "\n")
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _parse_labels(text, pos, lineno, line):
    """Parses `{...}` starting at TEXT[POS] == '{'; returns (labels, end)."""
    labels = {}
    pos += 1
    while True:
        if pos < len(text) and text[pos] == "}":
            return labels, pos + 1
        m = re.compile(LABEL_NAME).match(text, pos)
        if not m:
            raise ParseError(lineno, line, "expected a label name")
        name = m.group(0)
        if name.startswith("__"):
            raise ParseError(lineno, line, f"reserved label name {name!r}")
        if name in labels:
            raise ParseError(lineno, line, f"label {name!r} repeated")
        pos = m.end()
        if text[pos:pos + 2] != '="':
            raise ParseError(lineno, line, f"expected =\" after label {name!r}")
        pos += 2
        value = []
        while True:
            if pos >= len(text):
                raise ParseError(lineno, line, "unterminated label value")
            c = text[pos]
            if c == "\\":
                if pos + 1 >= len(text) or text[pos + 1] not in '\\"n':
                    raise ParseError(lineno, line, "invalid escape in label value")
                value.append({"\\": "\\", '"': '"', "n": "\n"}[text[pos + 1]])
                pos += 2
            elif c == '"':
                pos += 1
                break
            elif c == "\n":
                raise ParseError(lineno, line, "newline in label value")
            else:
                value.append(c)
                pos += 1
        labels[name] = "".join(value)
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        if pos < len(text) and text[pos] == "}":
            return labels, pos + 1
        raise ParseError(lineno, line, "expected , or } after a label value")


def _family_of(sample_name, families):
    """The family a sample belongs to, from the declared types."""
    for suffix in ("_bucket", "_sum", "_count"):
        if sample_name.endswith(suffix):
            base = sample_name[: -len(suffix)]
            fam = families.get(base)
            if fam is not None and fam.type in ("histogram", "summary"):
                if suffix == "_bucket" and fam.type != "histogram":
                    continue
                return base
    return sample_name


def parse(text, project=True):
    if not isinstance(text, str):
        raise TypeError("text must be str")
    if text == "":
        raise ParseError(0, "", "empty exposition")
    if not text.endswith("\n"):
        raise ParseError(text.count("\n") + 1, text.rsplit("\n", 1)[-1],
                         "the last line does not end with a newline")

    expo = Exposition()
    families = expo.families
    finished = set()      # families whose samples are over
    current = None        # family whose samples we are in
    lines = text[:-1].split("\n")

    for lineno, line in enumerate(lines, 1):
        if line == "":
            continue
        if "\r" in line:
            raise ParseError(lineno, line, "carriage return in line")

        if line.startswith("#"):
            m = re.match(r"# (HELP|TYPE) (\S+)(?: (.*))?\Z", line, re.S)
            if not m:
                if re.match(r"#\s*(HELP|TYPE)\b", line):
                    raise ParseError(lineno, line, "malformed HELP/TYPE line")
                continue  # a plain comment
            kind, name, rest = m.group(1), m.group(2), m.group(3)
            if not METRIC_NAME_RE.match(name):
                raise ParseError(lineno, line, f"invalid metric name {name!r}")
            fam = families.get(name)
            if fam is None:
                fam = families[name] = Family(name)
            if fam.samples or name in finished:
                raise ParseError(lineno, line, f"{kind} for {name} after its samples")
            if current is not None and current != name:
                finished.add(current)
                current = None
            if kind == "HELP":
                if fam.help is not None:
                    raise ParseError(lineno, line, f"second HELP for {name}")
                fam.help = _unescape_help(rest or "", lineno, line)
            else:
                if fam.type is not None:
                    raise ParseError(lineno, line, f"second TYPE for {name}")
                if rest not in TYPES:
                    raise ParseError(lineno, line, f"invalid type {rest!r}")
                fam.type = rest
            continue

        # A sample line.
        m = re.compile(METRIC_NAME).match(line)
        if not m:
            raise ParseError(lineno, line, "expected a metric name")
        name = m.group(0)
        pos = m.end()
        labels = {}
        if pos < len(line) and line[pos] == "{":
            labels, pos = _parse_labels(line, pos, lineno, line)
        if pos >= len(line) or line[pos] not in " \t":
            raise ParseError(lineno, line, "expected blank before the value")
        fields = line[pos:].split()
        if len(fields) not in (1, 2):
            raise ParseError(lineno, line, "expected a value and an optional timestamp")
        try:
            value = parse_float(fields[0])
        except ValueError as e:
            raise ParseError(lineno, line, str(e)) from None
        timestamp = None
        if len(fields) == 2:
            if not TIMESTAMP_RE.match(fields[1]):
                raise ParseError(lineno, line, f"invalid timestamp {fields[1]!r}")
            timestamp = int(fields[1])

        fam_name = _family_of(name, families)
        fam = families.get(fam_name)
        if fam is None:
            fam = families[fam_name] = Family(fam_name)
        if fam_name in finished:
            raise ParseError(lineno, line, f"samples of {fam_name} are not contiguous")
        if current is not None and current != fam_name:
            finished.add(current)
        current = fam_name

        ftype = fam.type or "untyped"
        if ftype in ("counter", "gauge", "untyped") and name != fam_name:
            raise ParseError(lineno, line, f"sample {name} in {ftype} family {fam_name}")
        if ftype == "histogram" and name == fam_name + "_bucket" and "le" not in labels:
            raise ParseError(lineno, line, "histogram bucket without le label")
        if ftype == "summary" and name == fam_name and "quantile" not in labels:
            raise ParseError(lineno, line, "summary sample without quantile label")

        key = (name, frozenset(labels.items()))
        if key in expo.samples:
            raise ParseError(lineno, line, "duplicate series")
        expo.samples[key] = value
        fam.samples.append((name, labels, value, timestamp))

        if project and ftype == "counter" and (value < 0 or math.isnan(value)):
            raise ParseError(lineno, line, "counter value is negative or NaN")

    if project:
        for fam in families.values():
            if fam.help is None:
                raise ParseError(0, fam.name, f"family {fam.name} has no HELP")
            if fam.type is None:
                raise ParseError(0, fam.name, f"family {fam.name} has no TYPE")
            if fam.type == "counter" and not fam.name.endswith("_total"):
                raise ParseError(0, fam.name, f"counter {fam.name} is not named *_total")
    return expo


# Inputs that must be rejected; test_http.py checks the parser against them
# so a parser that accepts everything cannot pass unnoticed.
BAD_EXAMPLES = [
    ("no trailing newline", "# HELP a_total x\n# TYPE a_total counter\na_total 1"),
    ("TYPE after samples", "# HELP a x\na 1\n# TYPE a gauge\n"),
    ("unknown type", "# HELP a x\n# TYPE a meter\na 1\n"),
    ("bad metric name", "# HELP 1a x\n# TYPE 1a gauge\n1a 1\n"),
    ("bad label name", '# HELP a x\n# TYPE a gauge\na{1b="x"} 1\n'),
    ("bad escape", '# HELP a x\n# TYPE a gauge\na{b="\\t"} 1\n'),
    ("unterminated label", '# HELP a x\n# TYPE a gauge\na{b="x} 1\n'),
    ("bad value", "# HELP a x\n# TYPE a gauge\na one\n"),
    ("lowercase inf", "# HELP a x\n# TYPE a gauge\na inf\n"),
    ("duplicate series", '# HELP a x\n# TYPE a gauge\na{b="1"} 1\na{b="1"} 2\n'),
    ("split family",
     '# HELP a x\n# TYPE a gauge\na 1\n# HELP c x\n# TYPE c gauge\nc 1\na{x="y"} 2\n'),
    ("repeated label", '# HELP a x\n# TYPE a gauge\na{b="1",b="2"} 1\n'),
    ("missing HELP", "# TYPE a gauge\na 1\n"),
    ("counter without _total", "# HELP a x\n# TYPE a counter\na 1\n"),
    ("negative counter", "# HELP a_total x\n# TYPE a_total counter\na_total -1\n"),
    ("two HELP", "# HELP a x\n# HELP a y\n# TYPE a gauge\na 1\n"),
    ("bad timestamp", "# HELP a x\n# TYPE a gauge\na 1 1.5\n"),
    ("no blank before value", '# HELP a x\n# TYPE a gauge\na{b="1"}1\n'),
]

GOOD_EXAMPLE = (
    "# HELP a_total A counter with \\\\ and \\n in its help.\n"
    "# TYPE a_total counter\n"
    'a_total{path="/x",q="say \\"hi\\"\\n\\\\"} 3\n'
    'a_total{path="/y",} 1e3 1700000000000\n'
    "# a comment\n"
    "\n"
    "# HELP g A gauge.\n"
    "# TYPE g gauge\n"
    "g NaN\n"
    'g{k="+"} +Inf\n'
    'g{k="-"} -Inf\n'
    'g{k="e"} -1.5E-3\n'
)
