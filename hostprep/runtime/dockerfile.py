"""Reading a Dockerfile: parser directives, line continuations, comments, instructions and their flags, and the
variable substitution Docker applies to some instructions (moby/buildkit's frontend/dockerfile/parser and
shell/lex, read for the rules; written here from them).

The result is a list of stages, each a list of Instruction (keyword, arguments, flags, exec form or not, the
line it starts on). Anything the builder cannot do as Docker does is refused here, with the line: unknown
instructions, unsupported flags (RUN --mount, ADD --checksum, ...), ONBUILD.
"""

import json
import re

INSTRUCTIONS = ("FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
                "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL")
# the flags each instruction accepts here (Docker's others are refused rather than ignored)
FLAGS = {"FROM": ("platform",), "COPY": ("from", "chown", "chmod"), "ADD": ("chown", "chmod"),
         "RUN": ("network",), "HEALTHCHECK": ("interval", "timeout", "start-period", "start-interval", "retries")}
JSON_FORMS = ("RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME")
# instructions whose arguments get $VAR substitution (Docker's replaceEnvAllowed)
EXPANDED = ("ADD", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR", "ARG")
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")


class DockerfileError(Exception):
    """A Dockerfile that cannot be built: the message names the file and line."""

    def __init__(self, path, line, message):
        Exception.__init__(self, "{}:{}: {}".format(path, line, message) if line else "{}: {}".format(path, message))
        self.line = line


class Instruction:
    """One instruction: `cmd` upper case, `args` (a list for the exec/JSON form, else the raw text), `flags`."""

    def __init__(self, cmd, original, args, flags, json_form, line):
        self.cmd = cmd
        self.original = original
        self.args = args
        self.flags = flags
        self.json_form = json_form
        self.line = line

    def __repr__(self):
        return "Instruction({!r}, line {})".format(self.original, self.line)


def _directives(lines):
    """(directives, index of the first line after them)."""
    found = {}
    for i, line in enumerate(lines):
        m = _DIRECTIVE.match(line)
        if not m:
            return found, i
        key = m.group(1).lower()
        if key not in ("syntax", "escape", "check"):
            return found, i  # an unknown directive is a comment, and ends the directives
        if key in found:
            raise ValueError("only one {} parser directive can be used".format(key))
        found[key] = m.group(2)
    return found, len(lines)


def logical_lines(text, path="Dockerfile"):
    """[(line number, text)] with continuations joined and comments dropped; also the escape character."""
    lines = text.splitlines()
    try:
        directives, _ = _directives(lines)
    except ValueError as exc:
        raise DockerfileError(path, 1, str(exc))
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise DockerfileError(path, 1, "invalid escape token {!r}: must be ` or \\".format(escape))
    out = []
    current, start = None, 0
    for number, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if stripped.startswith("#"):
            continue  # a comment, also inside a continued instruction (directives are comments too)
        if current is None:
            if not stripped:
                continue
            current, start = "", number
        elif not stripped:
            continue  # an empty line inside a continuation (deprecated by Docker, still accepted)
        body = raw.rstrip()
        if not current:
            body = body.lstrip()
        if body.endswith(escape):
            current += body[:-1]
            continue
        current += body
        out.append((start, current))
        current = None
    if current is not None and current.strip():
        out.append((start, current))
    return out, escape


def parse(text, path="Dockerfile"):
    """The Dockerfile's instructions, checked for form; (instructions, escape character)."""
    lines, escape = logical_lines(text, path)
    out = []
    for number, line in lines:
        word, _, rest = line.strip().partition(" ")
        if "\t" in word:
            word, _, more = word.partition("\t")
            rest = more + " " + rest
        cmd = word.upper()
        if cmd not in INSTRUCTIONS:
            raise DockerfileError(path, number, "unknown instruction: {}".format(word))
        if cmd == "ONBUILD":
            raise DockerfileError(path, number, "ONBUILD is not supported by hostprep-runtime build")
        if cmd == "MAINTAINER":  # stored as Docker stores it: in the image's Author field (see builder)
            rest = "maintainer=" + json.dumps(rest.strip())
            out.append(Instruction("MAINTAINER", line, rest, {}, False, number))
            continue
        rest = rest.strip()
        flags, rest = _flags(cmd, rest, path, number)
        args, json_form = rest, False
        if cmd in JSON_FORMS and rest.startswith("["):
            try:
                value = json.loads(rest)
            except ValueError:
                value = None
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                args, json_form = value, True
        if cmd == "SHELL" and not json_form:
            raise DockerfileError(path, number, "SHELL requires the arguments to be in JSON form")
        if not json_form and not rest and cmd not in ("CMD", "ENTRYPOINT", "RUN"):
            raise DockerfileError(path, number, "{} requires at least one argument".format(cmd))
        if not json_form and not rest and cmd == "RUN":
            raise DockerfileError(path, number, "RUN requires at least one argument")
        out.append(Instruction(cmd, line, args, flags, json_form, number))
    if not out:
        raise DockerfileError(path, 0, "the Dockerfile has no instructions")
    return out, escape


def _flags(cmd, rest, path, number):
    flags = {}
    while rest.startswith("--"):
        word, _, after = rest.partition(" ")
        name, eq, value = word[2:].partition("=")
        if name not in FLAGS.get(cmd, ()):
            raise DockerfileError(path, number, "{} --{} is not supported{}".format(
                cmd, name, " (supported: " + ", ".join("--" + f for f in FLAGS[cmd]) + ")" if cmd in FLAGS else ""))
        if not eq:
            raise DockerfileError(path, number, "{} --{} needs a value (--{}=VALUE)".format(cmd, name, name))
        if name in flags:
            raise DockerfileError(path, number, "{} --{} given twice".format(cmd, name))
        flags[name] = value
        rest = after.lstrip()
    return flags, rest


def stages(instructions, path="Dockerfile"):
    """(global ARG instructions before the first FROM, [stage instructions, each starting with its FROM])."""
    meta, out = [], []
    for ins in instructions:
        if ins.cmd == "FROM":
            out.append([ins])
        elif not out:
            if ins.cmd != "ARG":
                raise DockerfileError(path, ins.line, "{} before the first FROM (only ARG may come before "
                                      "it)".format(ins.cmd))
            meta.append(ins)
        else:
            out[-1].append(ins)
    if not out:
        raise DockerfileError(path, 0, "no FROM instruction")
    return meta, out


# -- words and substitution (Docker's shell lexer) --------------------------------------------------------------
def split_words(text, escape="\\"):
    """Whitespace-separated words, quotes kept (they are removed by expand): `a="b c" d` is two words."""
    words, cur, quote, i, inword = [], "", None, 0, False
    while i < len(text):
        ch = text[i]
        if quote is None and ch.isspace():
            if inword:
                words.append(cur)
                cur, inword = "", False
            i += 1
            continue
        inword = True
        if ch == escape and quote != "'" and i + 1 < len(text):
            cur += ch + text[i + 1]
            i += 2
            continue
        if quote is None and ch in "'\"":
            quote = ch
        elif quote == ch:
            quote = None
        cur += ch
        i += 1
    if quote is not None:
        raise ValueError("unterminated quote in {!r}".format(text))
    if inword:
        words.append(cur)
    return words


def expand(word, env, escape="\\", used=None):
    """A word with $VAR, ${VAR}, ${VAR:-x}, ${VAR-x}, ${VAR:+x}, ${VAR+x} replaced and quotes removed.

    `used` (a set) collects the names read: the build cache keys on the build arguments a step uses.
    """
    out, i, quote = [], 0, None
    while i < len(word):
        ch = word[i]
        if ch == escape and quote != "'":
            if i + 1 < len(word):
                nxt = word[i + 1]
                if quote == '"' and nxt not in ('"', "$", escape):
                    out.append(ch)
                out.append(nxt)
                i += 2
                continue
            out.append(ch)
            i += 1
            continue
        if ch in "'\"" and (quote is None or quote == ch):
            quote = None if quote == ch else ch
            i += 1
            continue
        if ch == "$" and quote != "'":
            value, i = _variable(word, i, env, escape, used)
            out.append(value)
            continue
        out.append(ch)
        i += 1
    if quote is not None:
        raise ValueError("unterminated quote in {!r}".format(word))
    return "".join(out)


def _variable(word, i, env, escape, used):
    """The value of the variable at word[i] ("$"), and the index after it."""
    if i + 1 < len(word) and word[i + 1] == "{":
        end = word.find("}", i + 2)
        if end < 0:
            raise ValueError("missing '}}' in {!r}".format(word))
        body = word[i + 2:end]
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])(.*))?$", body, re.S)
        if not m:
            raise ValueError("unsupported substitution ${{{}}} in {!r}".format(body, word))
        name, op, alt = m.group(1), m.group(2), m.group(3)
        if used is not None:
            used.add(name)
        value = env.get(name)
        if op is None:
            return value or "", end + 1
        alt = expand(alt, env, escape, used)
        if op == ":-":
            return value if value else alt, end + 1
        if op == "-":
            return value if value is not None else alt, end + 1
        if op == ":+":
            return alt if value else "", end + 1
        return alt if value is not None else "", end + 1
    m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", word[i + 1:])
    if not m:
        return "$", i + 1
    name = m.group(0)
    if used is not None:
        used.add(name)
    return env.get(name) or "", i + 1 + len(name)


def key_values(text, escape, env, cmd, used=None):
    """ENV/LABEL/ARG pairs: `k=v k2="v 2"`, or ENV/LABEL's legacy `k v w` (one pair, the rest the value)."""
    words = split_words(text, escape)
    if not words:
        raise ValueError("{} requires at least one argument".format(cmd))
    if "=" not in words[0] and cmd in ("ENV", "LABEL"):
        if len(words) < 2:
            raise ValueError("{} {} needs a value".format(cmd, words[0]))
        value = text.strip()[len(words[0]):].strip()
        return [(words[0], expand(value, env, escape, used) if cmd == "ENV" else expand(value, env, escape, used))]
    pairs = []
    for w in words:
        if "=" not in w:
            if cmd == "ARG":
                pairs.append((w, None))
                continue
            raise ValueError("{}: {!r} is not of the form KEY=VALUE".format(cmd, w))
        k, _, v = w.partition("=")
        k = expand(k, env, escape, used)
        if not k:
            raise ValueError("{}: an empty name".format(cmd))
        pairs.append((k, expand(v, env, escape, used)))
    return pairs
