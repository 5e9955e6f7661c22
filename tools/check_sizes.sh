#!/usr/bin/env bash
# Size check: lists every source file (*.cc, *.h) over MAX_FILE_LINES lines (default 600) and every
# function body over MAX_FUNCTION_LINES lines (default 120), then exits 1 if it listed anything.
# Scanned: api base cli daemon drivers planner reconciler worker testing models ingress (missing
# folders are skipped). Left out: tests (*_test.cc, *_test.h; tests/ is not scanned) and generated
# code (*.pb.cc, *.pb.h, or a file whose first lines say "DO NOT EDIT" or "@generated").
#
# A function's length runs from the line of its opening brace to the line of its closing brace.
# Functions are found by brace matching over the code with comments, strings, character literals
# and preprocessor lines blanked out: a brace at namespace or class scope whose header ends like a
# parameter list ("...) const {", "...) -> T {", a constructor's initializer list) opens a function;
# lambdas and local classes count towards the function they are in. Good enough for our style; it
# is not a C++ parser.
# Usage: tools/check_sizes.sh [ROOT]   (ROOT defaults to the repository this script is in)
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
export MAX_FILE_LINES=${MAX_FILE_LINES:-600}
export MAX_FUNCTION_LINES=${MAX_FUNCTION_LINES:-120}

exec python3 - "$root" <<'PY'
import os
import re
import sys

ROOT = sys.argv[1]
FOLDERS = ["api", "base", "cli", "daemon", "drivers", "planner", "reconciler", "worker", "testing", "models",
           "ingress"]
MAX_FILE = int(os.environ["MAX_FILE_LINES"])
MAX_FUNC = int(os.environ["MAX_FUNCTION_LINES"])


def is_test(path):
    base = os.path.basename(path)
    return re.search(r"_test\.(cc|h)$", base) is not None


def is_generated(path, text):
    if re.search(r"\.pb\.(cc|h)$", path):
        return True
    head = "\n".join(text.splitlines()[:5])
    return "DO NOT EDIT" in head or "@generated" in head


def blank(text):
    """Returns `text` with comments, string and character literals and preprocessor lines replaced
    by spaces (newlines kept), so that braces and parentheses left are code."""
    out = []
    i, n = 0, len(text)
    at_line_start = True
    while i < n:
        c = text[i]
        if c == "\n":
            out.append(c)
            i += 1
            at_line_start = True
            continue
        if at_line_start and c in " \t":
            out.append(c)
            i += 1
            continue
        if at_line_start and c == "#":
            # Preprocessor line, with its backslash continuations.
            while i < n:
                if text[i] == "\n":
                    if i > 0 and text[i - 1] == "\\":
                        out.append("\n")
                        i += 1
                        continue
                    break
                out.append(" ")
                i += 1
            continue
        at_line_start = False
        if text.startswith("//", i):
            while i < n and text[i] != "\n":
                out.append(" ")
                i += 1
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.extend(ch if ch == "\n" else " " for ch in text[i:j])
            i = j
            continue
        m = re.match(r'(?:u8|u|U|L)?R"([^(\s]{0,16})\(', text[i:i + 24])
        if m and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            end = text.find(")" + m.group(1) + '"', i + m.end())
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.extend(ch if ch == "\n" else " " for ch in text[i:j])
            i = j
            continue
        if c == '"' or (c == "'" and not (i > 0 and text[i - 1].isalnum())):
            # A string or character literal (a quote right after a digit is a digit separator).
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.extend(ch if ch == "\n" else " " for ch in text[i:j])
            i = j
            continue
        out.append(c)
        i += 1
    return "".join(out)


CONTAINER = re.compile(r"\b(namespace|class|struct|union)\b[^()]*$|\bextern\s*$")
ENUM = re.compile(r"\benum\b[^()]*$")
CONTROL = re.compile(r"\b(if|for|while|switch|catch|do|else|try)\s*$")
# The end of a function header: a parameter list followed by qualifiers or a trailing return type.
FUNC_END = re.compile(r"\)\s*(?:(?:const|noexcept|override|final|mutable|volatile|&&|&)\s*|noexcept\s*\([^()]*\)\s*"
                      r"|->\s*[\w:<>,\s*&]+?\s*|requires\b[^{;]*)*$")
# A constructor's initializer list has begun: "Name(args) : member".
CTOR_INIT = re.compile(r"\)\s*(?:noexcept\s*)?:(?!:)")


def match_brace(code, i):
    """Index of the brace closing the one at code[i]."""
    depth = 0
    for j in range(i, len(code)):
        if code[j] == "{":
            depth += 1
        elif code[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(code) - 1


def function_name(header):
    depth = 0
    for k, ch in enumerate(header):
        if ch in "<":
            depth += 1
        elif ch == ">" and depth:
            depth -= 1
        elif ch == "(" and depth == 0:
            m = re.search(r"(~?[\w:]+(?:<[^()]*>)?(?:operator\s*\S+?)?)\s*$", header[:k])
            if m:
                return m.group(1)
            break
    return header.strip().split("\n")[-1].strip()[:60] or "?"


def scan(code, start, end, line_of, found):
    """Scans code[start:end] at namespace/class scope, appending (line, name, length) for each
    function body found."""
    header_start = start
    i = start
    while i < end:
        ch = code[i]
        if ch in ";}":
            header_start = i + 1
            i += 1
            continue
        if ch != "{":
            i += 1
            continue
        header = code[header_start:i]
        close = match_brace(code, i)
        flat = " ".join(header.split())
        if CONTAINER.search(flat):
            scan(code, i + 1, close, line_of, found)
            header_start = close + 1
            i = close + 1
            continue
        if CTOR_INIT.search(flat) and re.search(r"[\w>]\s*$", flat) and not FUNC_END.search(flat):
            # A braced member initializer inside a constructor's initializer list: part of the header.
            i = close + 1
            continue
        if not ENUM.search(flat) and not CONTROL.search(flat) and "=" not in flat.split(")")[-1] \
                and (FUNC_END.search(flat) or (CTOR_INIT.search(flat) and re.search(r"[)}]\s*$", flat))):
            length = line_of(close) - line_of(i) + 1
            found.append((line_of(i), function_name(flat), length))
        # Anything else (enum bodies, braced initializers of variables) is skipped whole.
        header_start = close + 1 if ENUM.search(flat) or FUNC_END.search(flat) or CTOR_INIT.search(flat) \
            else header_start
        i = close + 1


def check_file(rel, text, problems):
    lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    if lines > MAX_FILE:
        problems.append(f"{rel}: {lines} lines (limit {MAX_FILE})")
    code = blank(text)
    starts = [0]
    for k, ch in enumerate(code):
        if ch == "\n":
            starts.append(k + 1)
    import bisect

    def line_of(pos):
        return bisect.bisect_right(starts, pos)

    found = []
    scan(code, 0, len(code), line_of, found)
    for line, name, length in found:
        if length > MAX_FUNC:
            problems.append(f"{rel}:{line}: function {name} is {length} lines (limit {MAX_FUNC})")


problems = []
scanned = 0
for folder in FOLDERS:
    top = os.path.join(ROOT, folder)
    if not os.path.isdir(top):
        continue
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames.sort()
        for f in sorted(filenames):
            if not f.endswith((".cc", ".h")):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, ROOT)
            if is_test(rel):
                continue
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
            if is_generated(rel, text):
                continue
            scanned += 1
            check_file(rel, text, problems)

for p in problems:
    print(p)
print(f"check_sizes: {scanned} files scanned, {len(problems)} over the limits "
      f"(files {MAX_FILE} lines, functions {MAX_FUNC} lines)", file=sys.stderr)
sys.exit(1 if problems else 0)
PY
