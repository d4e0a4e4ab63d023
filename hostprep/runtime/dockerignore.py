""".dockerignore: which paths of the build context COPY and ADD never see, by Docker's rules (moby/patternmatcher,
read for the rules).

- one pattern a line; `#` starts a comment line; blank lines are skipped; surrounding whitespace is dropped;
- a pattern is cleaned like a path (`./a/../b` is `b`) and a leading `/` dropped: patterns are relative to the
  context's root;
- `*` matches any run of characters but `/`, `?` one character but `/`, `[...]` a class, `\\` escapes, and `**`
  any number of directories (`**/x`, `a/**`, `a/**/b`);
- `!pattern` takes matching paths back in; the last pattern that matches decides;
- a path is matched when it or any of its parent directories matches (an excluded directory excludes its
  contents, unless a later `!` pattern names something inside).
"""

import os
import posixpath
import re


class Pattern:
    def __init__(self, text, exclusion, regex):
        self.text = text
        self.exclusion = exclusion
        self.regex = regex

    def __repr__(self):
        return "Pattern({}{!r})".format("!" if self.exclusion else "", self.text)


def _compile(pattern):
    """The regular expression of one cleaned pattern (anchored)."""
    out, i, n = ["^"], 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                i += 2
                if i < n and pattern[i] == "/":
                    out.append("(.*/)?")
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise ValueError("syntax error in .dockerignore pattern {!r}: unterminated [".format(pattern))
            body = pattern[i + 1:end]
            if body.startswith("^") or body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    out.append("$")
    return re.compile("".join(out))


def parse(text):
    """The patterns of a .dockerignore's text, in order."""
    patterns = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        if not line:
            continue
        cleaned = posixpath.normpath(line)
        if cleaned.startswith("/") and len(cleaned) > 1:
            cleaned = cleaned.lstrip("/")
        if cleaned == ".":
            continue  # "." (or "/") would exclude the whole context: Docker ignores it
        patterns.append(Pattern(cleaned, exclusion, _compile(cleaned)))
    return patterns


def load(context):
    """The patterns of CONTEXT/.dockerignore (none when there is no such file)."""
    try:
        with open(os.path.join(context, ".dockerignore"), encoding="utf-8") as handle:
            return parse(handle.read())
    except FileNotFoundError:
        return []


def excluded(patterns, rel):
    """Whether the context-relative path `rel` (slashes) is left out of the build."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    matched = False
    for pattern in patterns:
        if any(pattern.regex.match(prefix) for prefix in prefixes):
            matched = not pattern.exclusion
    return matched


def may_hold_included(patterns, rel):
    """Whether an excluded directory `rel` could still hold a path an exclusion pattern takes back in."""
    for pattern in patterns:
        if pattern.exclusion and (pattern.text.startswith(rel + "/") or pattern.text.startswith("**")
                                  or not re.match(r"^[^*?\[\\]*$", pattern.text.split("/")[0])):
            return True
    return False
