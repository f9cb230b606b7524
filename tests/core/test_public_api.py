#!/usr/bin/env python3
"""The public API of libaero-net: every function declared in the installed
headers has a doc comment, and the shared library exports exactly the
declared functions (plus the GType getters of declared types)."""
import glob
import os
import re
import subprocess
import sys

headers_dir = os.environ["AERO_HEADERS_DIR"]
generated_dir = os.environ["AERO_GENERATED_HEADERS_DIR"]
library = os.environ["AERO_LIBRARY"]

tests = []


def check(ok, desc, detail=""):
    tests.append((ok, desc, detail))


def strip_comments_keep_docs(text):
    return re.sub(r"/\*(?!\*).*?\*/", "", text, flags=re.S)


declared = {}
documented = set()
types = set()
for path in sorted(glob.glob(os.path.join(headers_dir, "*.h")) +
                   glob.glob(os.path.join(generated_dir, "*.h"))):
    text = open(path, encoding="utf-8").read()
    for m in re.finditer(r"/\*\*\s*\n\s*\*\s*([A-Za-z_][A-Za-z0-9_]*)\s*:", text):
        documented.add(m.group(1))
    for m in re.finditer(r"G_DECLARE_(?:FINAL_TYPE|DERIVABLE_TYPE|INTERFACE)\s*\(\s*\w+\s*,\s*(\w+)", text):
        types.add(m.group(1))
    code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    code = re.sub(r"^\s*#.*?(?<!\\)$", "", code, flags=re.M | re.S)
    for m in re.finditer(r"\b(aero_[a-z0-9_]+)\s*\(([^;{}]*)\)\s*(?:G_GNUC_\w+\s*(?:\([^)]*\))?\s*)*;", code):
        declared[m.group(1)] = os.path.basename(path)

check(len(declared) > 50, "found the public function declarations", "%d found" % len(declared))
for name in sorted(declared):
    check(name in documented, "%s (%s) has a doc comment" % (name, declared[name]))

out = subprocess.run(["nm", "-D", "--defined-only", library], capture_output=True, text=True,
                     check=True).stdout
exported = {line.split()[-1].split("@")[0] for line in out.splitlines()
            if len(line.split()) == 3 and line.split()[1] in "TWi"}
exported_aero = {s for s in exported if s.startswith("aero_")}
allowed = set(declared) | {t + "_get_type" for t in types}
extra = sorted(exported_aero - allowed)
missing = sorted(set(declared) - exported_aero)
check(not extra, "the library exports nothing beyond the public headers", ", ".join(extra))
check(not missing, "every declared function is exported", ", ".join(missing))

print("1..%d" % len(tests))
for i, (ok, desc, detail) in enumerate(tests, 1):
    print("%s %d - %s" % ("ok" if ok else "not ok", i, desc))
    if detail and not ok:
        print("# " + detail)
sys.exit(0 if all(ok for ok, _, _ in tests) else 1)
