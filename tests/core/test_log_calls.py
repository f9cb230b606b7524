#!/usr/bin/python3
"""test_log_calls — every AERO_LOG_* call in the tree passes its fields
as (name, string) pairs before "MESSAGE".

GLib's g_log_structured() reads its variable arguments as field names
and string values until "MESSAGE"; a value passed as a format string and
its argument (`"count", "%u", n`) shifts every pair after it, and the
daemon reads a number as a string pointer and crashes on the first such
line (a policy instance did, on its log-rate summary). The compiler does
not see it. This test reads every C file under src/ and plugins/ and
checks each AERO_LOG_DEBUG/INFO/MESSAGE/WARNING/AT call:

  * a "MESSAGE" argument is there, with its format after it;
  * between the component and "MESSAGE" the arguments come in pairs;
  * every field name is a string literal, upper or lower case, no '%';
  * no field value is a string literal with a '%' in it.
"""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
import aerotest  # noqa: E402

ROOT = os.environ.get("AERO_SOURCE_ROOT") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..")
CALL = re.compile(r"\bAERO_LOG_(DEBUG|INFO|MESSAGE|WARNING|AT)\s*\(")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def strip_comments(text):
    """TEXT with comments blanked (strings and line numbers kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"' or c == "'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def call_arguments(text, start):
    """The top-level arguments of the call whose '(' is at START."""
    args, depth, i, cur = [], 0, start, []
    while i < len(text):
        c = text[i]
        if c == '"' or c == "'":
            j = i + 1
            while j < len(text) and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            cur.append(text[i:j + 1])
            i = j + 1
            continue
        if c in "([{":
            depth += 1
            if depth > 1:
                cur.append(c)
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                args.append("".join(cur).strip())
                return args
            cur.append(c)
        elif c == "," and depth == 1:
            args.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    raise ValueError("unbalanced call")


def literal_text(arg):
    """The text of ARG if it is only string literals (concatenated), else None."""
    parts = STRING.findall(arg)
    if not parts or STRING.sub("", arg).strip():
        return None
    return "".join(p[1:-1] for p in parts)


def check_call(kind, args):
    """A list of problems with one call."""
    fields = args[2:] if kind == "AT" else args[1:]
    names = [literal_text(a) for a in fields]
    if "MESSAGE" not in names:
        return ['no "MESSAGE" argument']
    m = names.index("MESSAGE")
    problems = []
    if m + 1 >= len(fields):
        problems.append('"MESSAGE" without a format')
    if m % 2:
        problems.append(f"{m} arguments before \"MESSAGE\": not (name, value) pairs")
        return problems
    for k in range(0, m, 2):
        name, value = names[k], fields[k + 1]
        if name is None or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            problems.append(f"field name {fields[k]!r} is not a plain string literal")
        v = literal_text(value)
        if (v is not None and "%" in v) or "G_G" in value and "FORMAT" in value:
            problems.append(f"field {fields[k]} has a format string as its value: {value!r}")
    return problems


def main():
    tap = aerotest.Tap()
    calls, bad = 0, []
    for top in ("src", "plugins"):
        for dirpath, _, files in os.walk(os.path.join(ROOT, top)):
            for name in sorted(files):
                if not name.endswith(".c"):
                    continue
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8") as f:
                    text = strip_comments(f.read())
                for m in CALL.finditer(text):
                    line = text.count("\n", 0, m.start()) + 1
                    where = f"{os.path.relpath(path, ROOT)}:{line}"
                    try:
                        args = call_arguments(text, m.end() - 1)
                    except ValueError as e:
                        bad.append(f"{where}: {e}")
                        continue
                    calls += 1
                    bad.extend(f"{where}: {p}" for p in check_call(m.group(1), args))
    tap.ok(calls >= 50, f"{calls} AERO_LOG_* calls found under src/ and plugins/")
    tap.ok(not bad, "every call passes (name, string) pairs, then \"MESSAGE\" and its format",
           "\n".join(bad))

    # The checker itself, on calls written wrong.
    cases = [
        ('AERO_LOG_MESSAGE (c, "suppressed", "%" G_GUINT64_FORMAT, n, "MESSAGE", "x")',
         "MESSAGE", "pairs"),
        ('AERO_LOG_INFO (c, "count", "%u", "MESSAGE", "x %u", n)', "INFO", "format string"),
        ('AERO_LOG_INFO (c, "peer", peer)', "INFO", 'no "MESSAGE"'),
        ('AERO_LOG_AT (level, c, name, value, "MESSAGE", "x")', "AT", "plain string literal"),
    ]
    for code, kind, expect in cases:
        problems = check_call(kind, call_arguments(code, code.index("(")))
        tap.ok(any(expect in p for p in problems), f"the check refuses: {code}", repr(problems))
    good = 'AERO_LOG_INFO (c, "peer", peer, "port", "53", "MESSAGE", "to %s (%s)", a, f (b, c))'
    tap.ok(check_call("INFO", call_arguments(good, good.index("("))) == [],
           f"the check accepts: {good}")
    tap.done()


if __name__ == "__main__":
    main()
