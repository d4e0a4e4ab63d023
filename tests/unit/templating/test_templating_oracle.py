# ruff: noqa: E501 - the expression table reads best one family per line
"""Templating oracle: hundreds of expressions evaluated by ansible-playbook and by hostprep's Templar.

One local play (connection: local, no facts) renders every expression on the same variables and writes
the values as JSON; hostprep's Templar evaluates each expression on those variables; the two are compared
value by value (after the same JSON round trip, so tuples are lists on both sides). The expressions cover
every ansible.builtin filter and test (ansible-core's plugins/filter and plugins/test), the Jinja2 builtins
roles lean on, and the lookups that need no network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hostprep.errors import InputError
from hostprep.templating.filters import f_to_json
from hostprep.templating.templar import Templar
from hostprep.vault.cipher import encrypt

BIN = Path(sys.executable).parent

VARS = yaml.safe_load(r"""
s: "Hello World"
n: 42
f: 3.75
neg: -7
lst: [3, 1, 2, 3]
words: [b, a, c, a, B]
d: {a: 1, b: {c: 2}, z: [1]}
d2: {b: {e: 5}, z: [2], y: 0}
users:
  - {name: alice, uid: 1001, groups: [wheel, dev], active: true, shell: /bin/bash}
  - {name: bob, uid: 1002, groups: [dev], active: false, shell: /bin/sh}
  - {name: carol, uid: 1003, groups: [], active: true, shell: /bin/bash}
none: null
empty: ""
path: /etc/nginx/conf.d/site.conf
url: "https://user:pw@example.com:8443/a/b?x=1&y=2#frag"
ver: "1.10.2"
deep: [[1, [2]], [3, [4, [5]]], 6]
multi_yaml: "a: 1\n---\nb: 2\n"
json_str: '{"k": [1, 2], "z": null}'
text: "line one\nline two\nline three"
mixed: [1, "two", 3.5, null, true]
res_ok: {changed: true, failed: false, rc: 0}
res_fail: {changed: false, failed: true, msg: boom}
res_skip: {changed: false, skipped: true}
res_async: {started: 1, finished: 0, ansible_job_id: "j1"}
res_unreach: {unreachable: true}
res_timeout: {failed: true, timedout: {period: 5}}
kv: [{key: x, value: 1}, {key: y, value: 2}]
pairs: [{k: a, v: 1}, {k: b, v: 2}]
sizes: ["1K", "2 MB", "1.5Gb"]
nums: [1.5, 2.5, -3]
""")

EXPRS: list[str] = [
    # --- ansible.builtin filters (core.py) ---
    "s | b64encode", "'SGVsbG8gV29ybGQ=' | b64decode", "'héllo' | b64encode", "'aMOpbGxv' | b64decode",
    "path | basename", "path | dirname", "path | splitext", "'/a/b/../c//d' | normpath",
    "['/a/b/c', '/a/b/d/e'] | commonpath", "'/etc/../etc' | realpath", "'/etc/nginx/x' | relpath('/etc')",
    "'a/b' | relpath('a')", "'$HOME/x' | expandvars == lookup('env', 'HOME') ~ '/x'",
    "'~/x' | expanduser == lookup('env', 'HOME') ~ '/x'",
    "'yes' | bool", "'no' | bool", "'1' | bool", "0 | bool", "'on' | bool", "'True' | bool", "1 | bool",
    "'off' | bool", "'y' | bool", "none | bool", "true | bool",
    "s | checksum", "s | sha1", "s | md5", "s | hash('md5')", "s | hash('sha256')", "s | hash('sha512')",
    "s | hash('blake2b')",
    "d | combine(d2)", "d | combine(d2, recursive=true)", "d | combine(d2, list_merge='append')",
    "d | combine(d2, list_merge='prepend')", "[d, d2, {'q': 1}] | combine",
    "{'a': [1, 2]} | combine({'a': [2, 3]}, list_merge='append_rp')",
    "{'a': [1, 2]} | combine({'a': [2, 3]}, list_merge='prepend_rp')",
    "{'a': [1]} | combine({'a': [2]}, list_merge='keep')",
    "'hello' | comment", "'a\\nb' | comment", "'x' | comment('c')", "'x' | comment('erlang')",
    "'x' | comment('cblock')", "'x' | comment('xml')", "'x' | comment(decoration='-- ')",
    "'x' | comment('plain', prefix='#!', postfix='#')",
    "'two words' | comment(decoration='; ', prefix_count=2, postfix_count=0)",
    "none | default('dflt')", "undefined_thing | default('u')", "empty | default('e', true)",
    "empty | default('e')", "undefined_thing | d(7)", "none | default('x', true)",
    "d | dict2items", "d | dict2items(key_name='k', value_name='v')", "kv | items2dict",
    "pairs | items2dict(key_name='k', value_name='v')",
    "['a', 'b'] | map('extract', d) | list", "1 | extract(lst)", "'b' | extract(d, 'c')",
    "[0, 2] | map('extract', users, 'name') | list", "'b' | extract(d, ['c'])",
    "deep | flatten", "deep | flatten(levels=1)", "[1, none, [2, none]] | flatten",
    "[1, none, [2, none]] | flatten(skip_nulls=false)",
    "json_str | from_json", "'[1, 2]' | from_json", "'a: [1, {b: c}]' | from_yaml", "multi_yaml | from_yaml_all | list",
    "'x: 1' | from_yaml_all | list", "'- 1\\n- 2' | from_yaml",
    "users | groupby('active') | list", "users | groupby('shell') | map('first') | list",
    "s | mandatory",
    "users | map(attribute='name') | list", "users | selectattr('active') | map(attribute='uid') | list",
    "users | rejectattr('active') | map(attribute='name') | list", "lst | select('odd') | list",
    "lst | reject('odd') | list", "users | selectattr('uid', '>', 1001) | map(attribute='name') | list",
    "users | selectattr('name', 'equalto', 'bob') | first", "words | map('upper') | list",
    "users | map(attribute='groups') | flatten | unique", "users | selectattr('groups', 'contains', 'dev') | list | length",
    "users | selectattr('name', 'match', '^[ab]') | map(attribute='name') | list",
    "users | map(attribute='missing', default='?') | list",
    "'secret' | password_hash('sha512', 'mysalt')", "'secret' | password_hash('sha256', 'mysalt')",
    "'secret' | password_hash('sha512', 'mysalt', rounds=5000)",
    "'secret' | password_hash('sha512', 'mysalt', rounds=10000)",
    "s | quote", "\"it's\" | quote", "'' | quote", "'plain' | quote",
    "100 | random(seed='h1')", "lst | random(seed='h1')", "10 | random(start=5, seed='x')",
    "50 | random(start=2, step=3, seed=7)", "'abcdef' | random(seed='s')",
    "'a.b*c[d]' | regex_escape", "'1.5+x' | regex_escape('posix_basic')", "'^(x)$' | regex_escape",
    "'a.b*c' | regex_escape(re_type='posix_basic')",
    "text | regex_findall('line (\\\\w+)')", "'a1b22c333' | regex_findall('\\\\d+')",
    "'AbAB' | regex_findall('ab', ignorecase=true)", "text | regex_findall('^line', multiline=true)",
    "s | regex_replace('o', '0')", "s | regex_replace('(\\\\w+) (\\\\w+)', '\\\\2 \\\\1')",
    "s | regex_replace('L', 'l', ignorecase=true)", "'aaa' | regex_replace('a', 'b', count=2)",
    "s | regex_replace('(?P<w>W\\\\w+)', '<\\\\g<w>>')", "text | regex_replace('^line', 'L', multiline=true)",
    "s | regex_search('W\\\\w+')",
    "s | regex_search('nomatch')",
    "s | regex_search('world', ignorecase=true)", "text | regex_search('^line two$', multiline=true)",
    "lst | shuffle(seed='h1')", "words | shuffle(seed=3)", "'a,b,,c' | split(',')", "s | split",
    "'a b  c' | split(' ')", "'k=v=w' | split('=', 1)",
    "'%Y-%m-%d %H:%M:%S' | strftime(0, utc=true)", "'%Y-%m-%d' | strftime(1700000000, utc=true)",
    "'%j' | strftime(86400 * 40, utc=true)",
    "users | subelements('groups') | map('last') | list",
    "users | subelements('groups') | map(attribute='0.name') | list",
    "true | ternary('y', 'n')", "false | ternary('y', 'n')", "none | ternary('y', 'n', 'null')",
    "none | ternary('y', 'n')", "(n > 40) | ternary(['big'], ['small'])",
    "(('2024-01-02 03:04:05' | to_datetime) - ('2024-01-01 00:00:00' | to_datetime)).total_seconds()",
    "('2024-03-02' | to_datetime('%Y-%m-%d')).year", "('2024-03-02 10:00:00' | to_datetime).strftime('%d/%m')",
    "d | to_json", "users[0] | to_json", "mixed | to_json", "'é' | to_json", "d | to_json(sort_keys=true)",
    "d | to_nice_json", "users[1] | to_nice_json(indent=2)", "lst | to_nice_json",
    "d | to_yaml", "users[0] | to_yaml", "lst | to_yaml", "s | to_yaml", "d | to_nice_yaml",
    "users | to_nice_yaml(indent=2)", "{'k': 'multi\\nline'} | to_nice_yaml",
    "'www.example.com' | to_uuid", "'x' | to_uuid(namespace='361E6D51-FAEC-444A-9079-341386DA8E2E')",
    "s | type_debug", "'lit' | type_debug", "n | type_debug", "f | type_debug", "d | type_debug",
    "lst | type_debug", "none | type_debug", "true | type_debug", "res_ok | type_debug",
    "'C:\\\\Users\\\\x\\\\f.txt' | win_basename", "'C:\\\\Users\\\\x\\\\f.txt' | win_dirname",
    "'C:\\\\Users\\\\x' | win_splitdrive", "'\\\\\\\\srv\\\\share\\\\x' | win_splitdrive",
    "['/etc', 'nginx', 'x.conf'] | path_join", "['a', '/b', 'c'] | path_join", "'single' | path_join",
    "('a', 'b') | path_join",
    # --- mathstuff.py ---
    "[1, 2, 3] | combinations(2) | list", "'abc' | combinations(2) | list",
    "[1, 2, 3] | permutations | list", "[1, 2, 3] | permutations(2) | list",
    "[1, 2, 3, 4] | difference([2, 5])", "[3, 1, 2, 3] | difference([9])", "words | difference(['a']) | sort(case_sensitive=true)",
    "[4, 3, 1, 2] | intersect([2, 4, 7])", "[3, 1, 3, 2] | intersect([3, 2, 3])", "words | intersect(['c', 'b']) | sort",
    "[3, 1] | union([2, 1, 3])", "[3, 1, 1] | union([5, 5])", "words | union(['z', 'a']) | sort(case_sensitive=true)",
    "[1, 2, 3] | symmetric_difference([3, 4, 4])", "[5, 1, 5] | symmetric_difference([1, 2])",
    "lst | unique", "words | unique", "words | unique(case_sensitive=false)",
    "users | unique(attribute='shell') | map(attribute='name') | list",
    "[{'a': 1}, {'a': 1}, {'a': 2}] | unique",
    "0 | human_readable", "1023 | human_readable", "1024 | human_readable", "(10 ** 9) | human_readable",
    "2048 | human_readable(isbits=true)", "1048576 | human_readable(unit='K')",
    "5000000 | human_readable(unit='M')", "1 | human_readable(isbits=true, unit='Kb')",
    "'1K' | human_to_bytes", "'2 MB' | human_to_bytes", "'1.5G' | human_to_bytes", "'10' | human_to_bytes",
    "'1Mb' | human_to_bytes(isbits=true)", "'2' | human_to_bytes(default_unit='K')",
    "1000 | human_to_bytes", "'0.5K' | human_to_bytes",
    "100 | log(10)", "8 | log(2)", "1 | log", "2 | pow(10)", "9 | root", "27 | root(3)",
    "[1, 2] | product(['a', 'b']) | list", "[1, 2] | product([3], [4, 5]) | list",
    "[1, 2] | zip(['a', 'b', 'c']) | list", "[1, 2, 3] | zip_longest(['a']) | list",
    "[1, 2] | zip_longest(['a'], fillvalue='-') | list",
    "users | rekey_on_member('name') | dict2items | map(attribute='key') | list",
    "{'x': {'id': 'a'}, 'y': {'id': 'b'}} | rekey_on_member('id')",
    "users | rekey_on_member('name', duplicates='overwrite') | length",
    # --- urls.py, urlsplit.py ---
    "'a%20b%2Fc%3Dd' | urldecode", "'a+b' | urldecode", "'a b/c&d' | urlencode", "{'a': 'x y', 'b': 1} | urlencode",
    "url | urlsplit", "url | urlsplit('hostname')", "url | urlsplit('port')", "url | urlsplit('path')",
    "url | urlsplit('query')", "url | urlsplit('fragment')", "url | urlsplit('scheme')",
    "url | urlsplit('username')", "url | urlsplit('password')", "url | urlsplit('netloc')",
    "'http://h/p' | urlsplit('port')",
    # --- Jinja2 builtins through Ansible ---
    "lst | length", "s | length", "d | length", "lst | count", "lst | first", "lst | last", "lst | min",
    "lst | max", "lst | sum", "nums | sum", "lst | sort", "lst | sort(reverse=true)", "words | sort",
    "words | sort(case_sensitive=true)", "users | sort(attribute='uid', reverse=true) | map(attribute='name') | list",
    "users | min(attribute='uid') | to_json", "lst | reverse | list", "s | reverse", "lst | join(',')",
    "users | map(attribute='name') | join(', ')", "s | upper", "s | lower", "'hello world' | capitalize",
    "'hello world' | title", "s | replace('l', 'L')", "s | replace('l', 'L', 1)", "'  x  ' | trim",
    "'42' | int", "'0x1f' | int(base=16)", "'abc' | int", "'3.9' | int", "'2.5' | float", "'x' | float(1.5)",
    "neg | abs", "f | round", "f | round(1, 'floor')", "2.5 | round", "3.5 | round", "f | int",
    "s | list", "d | list", "n | string", "lst | unique | list", "text | wordcount",
    "lst | batch(3) | list", "lst | slice(2) | list", "'a\\nb' | indent(2)", "'a\\nb' | indent(2, true)",
    "'%s-%03d' | format('x', 7)", "d | dictsort", "d | dictsort(reverse=true)", "'abcdefghij' | truncate(6, true, '')",
    "'x' | center(5)", "s | wordwrap(5)", "lst | map('string') | list", "lst | map('int') | sum",
    "'<a>' | e", "s | urlize | length > 0", "{'a': 1} | items | list", "lst | tojson",
    "users | map(attribute='uid') | select('gt', 1001) | list", "s | striptags", "'x' * 3",
    # --- expressions and value semantics ---
    "n // 5", "n / 5", "n % 5", "2 ** 10", "'%s-%d' % ('a', 3)", "lst[1:]", "lst[-1]", "d.b.c", "d['a']",
    "'World' in s", "s.split()", "s.startswith('H')", "s ~ n", "[1, 2] + [3]", "d.items() | list",
    "range(3) | list", "range(1, 10, 3) | list", "d.keys() | list", "d.get('q', 'none')", "s[0:5]",
    "s.replace('World', 'There')", "'%05.1f' % f", "n is divisibleby 7", "(lst | sum) / (lst | length)",
    "none", "empty", "[none, 1]", "'a' if none else 'b'", "'x' ~ none ~ 'y'", "{'k': none}",
    "n > 40 and s is string", "not lst", "[] | default(['d'], true)", "{} | default({'x': 1}, true)",
    "lst | map('quote') | list", "dict(a=1, b=2)", "dict([['x', 1]])", "lst | list | type_debug",
    "(d | dict2items | first).key", "namespace is defined", "lookup('vars', 'n') + 1",
    "lookup('vars', 'undefined_q', default='dv')", "query('vars', 's', 'n')",
    "lookup('varnames', '^nu.+') ", "query('varnames', '^res_', '^sizes$') | sort",
    "query('sequence', 'start=1 end=5 stride=2')", "lookup('sequence', 'count=3 format=h%02d')",
    "lookup('sequence', 'count=3 format=h%02d', wantlist=true)",
    "query('nested', ['a', 'b'], [1, 2])", "query('subelements', users, 'groups') | map('last') | list",
    "query('subelements', users, 'groups') | map('first') | map(attribute='name') | list",
    "query('items', [1, [2]], 3)", "query('list', [1, [2]])", "lookup('list', [1, 2])",
    "query('dict', {'a': 1})", "query('indexed_items', ['x', 'y'])", "query('together', [1, 2], ['a'])",
    "lookup('lines', 'printf \"a\\nb\\n\"')", "query('lines', 'echo x; echo y')", "lookup('pipe', 'echo hi; echo there')",
    "lookup('ansible.builtin.pipe', 'echo q')", "query('ansible.builtin.sequence', 'end=2')",
    "lookup('env', 'HOSTPREP_ORACLE_ENV')", "lookup('env', 'HOSTPREP_ORACLE_NOPE', default='unset')",
    "lookup('file', 'data.txt')", "lookup('file', 'data.txt', rstrip=false)",
    "lookup('csvfile', 'bob file=users.csv delimiter=,')", "lookup('csvfile', 'bob file=users.csv delimiter=, col=2')",
    "lookup('csvfile', 'nobody file=users.csv delimiter=, default=none')",
    "lookup('ini', 'port section=db file=app.ini')", "lookup('ini', 'name section=global file=app.ini')",
    "lookup('ini', 'missing section=db file=app.ini default=dflt')",
    "query('ini', '.*', section='db', file='app.ini', re=true) | sort",
    "lookup('ini', 'user.name type=properties file=app.properties')",
    "lookup('template', 'greet.j2')", "lookup('template', 'greet.j2', template_vars={'who': 'tv'})",
    "lookup('first_found', ['nope.txt', 'files/data.txt']) | basename",
    "query('first_found', ['nope.txt'], skip=true)",
    "lookup('first_found', files=['nope.txt', 'data.txt'], paths=['files']) | basename",
    "lookup('first_found', {'files': ['nope.txt', 'more.txt'], 'paths': ['files']}) | basename",
    "lookup('file', 'spaced.txt', lstrip=true)", "lookup('file', 'spaced.txt')",
    "lookup('file', 'missing.txt', errors='ignore')", "query('file', 'missing.txt', errors='ignore')",
    "lookup('file', 'missing.txt', errors='warn') is none", "lookup('file', 'missing.txt', errors='ignore', wantlist=true)",
    "query('fileglob', '*.txt') | map('basename') | sort", "'*.csv' | fileglob | map('basename') | sort",
    # --- ansible.builtin tests (core.py) ---
    "lst is all", "[1, 0] is all", "[0, 1] is any", "[] is any",
    "res_ok is changed", "res_ok is change", "res_fail is changed", "res_ok is failed", "res_fail is failed",
    "res_fail is failure", "res_ok is succeeded", "res_ok is success", "res_ok is successful",
    "res_fail is succeeded", "res_skip is skipped", "res_skip is skip", "res_ok is skipped",
    "res_async is started", "res_async is finished", "res_ok is finished", "res_unreach is unreachable",
    "res_ok is reachable", "res_unreach is reachable", "res_timeout is timedout", "res_ok is timedout",
    "s is defined", "nothing_here is undefined", "nothing_here is defined", "d.b.c is defined", "d.q is undefined",
    "s is match('Hel')", "s is match('World')", "s is search('World')", "s is regex('w.r', ignorecase=true)",
    "s is regex('^World', match_type='search')", "s is regex('World', match_type='match')",
    "text is search('^line two', multiline=true)", "'ab' is match('AB', ignorecase=true)",
    "'yes' is truthy", "'yes' is truthy(convert_bool=true)", "'no' is truthy(convert_bool=true)",
    "'' is falsy", "'off' is falsy(convert_bool=true)", "0 is falsy", "[0] is truthy",
    "ver is version('1.9', '>')", "ver is version('1.10.2', '==')", "'1.0.0' is version('1.0', '==')",
    "'1.0.0' is version('1.0', 'eq')", "'1.0' is version('1.0.0', 'lt')", "'1.2.3' is version('1.2.3', 'ge')",
    "'2.0' is version('10.0', '<')", "'1.0a' is version('1.0', '>')", "'1.0.0-rc1' is version('1.0.0', '<', version_type='semver')",
    "'1.0.0' is version('1.0.1', 'lt', version_type='semver')", "'1.2' is version('1.2.0', 'eq', version_type='strict')",
    "'1.0rc1' is version('1.0', '<', version_type='pep440')", "'1.0.post1' is version('1.0', 'gt', version_type='pep440')",
    "'1.0' is version('1.0.0', 'eq', version_type='pep440')", "'2.0' is version('1.0', 'gt', version_type='loose')",
    "'1.0.0+build' is version('1.0.0', '==', version_type='semver')", "ver is version_compare('1.2', '>=')",
    "'2.1' is version('2.0', 'ne')", "'2.1' is version('2.0', '!=')", "'2.1' is version('2.0', '<>')",
    "'2.1' is version('2.1', '=')", "'1.10' is version('1.9', 'gt', strict=true)",
    "'1.0.0-alpha' is version('1.0.0-beta', '<', version_type='semantic')",
    "'hello' | vault('pw') | unvault('pw')", "('x' | vault('pw', vault_id='lbl')) is vault_encrypted",
    "('x' | vault('pw')).startswith('$ANSIBLE_VAULT;1.2;AES256;filter_default')", "'plain' is vault_encrypted",
    "'plain' | unvault('pw')", "'files/data.txt' is vaulted_file", "'files/secret.yml' is vaulted_file",
    # --- files.py ---
    "'/' is abs", "'rel/x' is abs", "'/etc' is is_abs", "'/etc' is directory", "'/etc' is is_dir",
    "'/etc/passwd' is file", "'/etc/passwd' is is_file", "'/etc' is file", "'/etc/passwd' is exists",
    "'/nonexistent-x' is exists", "'/proc/self' is link", "'/proc/self' is is_link", "'/etc' is link",
    "'/proc/self' is link_exists", "'/' is mount", "'/' is is_mount", "'/etc' is mount",
    "'/etc' is same_file('/etc/../etc')", "'/etc' is is_same_file('/tmp')",
    # --- mathstuff.py tests ---
    "lst is contains(2)", "lst is contains(9)", "[1, 2] is subset([1, 2, 3])", "[1, 4] is issubset([1, 2])",
    "[1, 2, 3] is superset([2])", "[1, 2, 3] is issuperset([4])", "('nan' | float) is nan",
    "1.0 is isnan", "('nan' | float) is isnan",
    # --- uri.py ---
    "url is uri", "'mailto:a@b' is uri", "'notauri' is uri", "url is url", "'ftp://x/y' is url",
    "'x:y' is url", "'urn:isbn:123' is urn", "url is urn", "'https://h' is uri(schemes=['http'])",
    "'https://h' is url(schemes=['https'])",
]


def _ansible_values(tmp: Path) -> dict:
    work = tmp / "ansible"
    work.mkdir()
    _write_files(work)
    (work / "vars.json").write_text(json.dumps(VARS))
    exprs = {f"e{i:03d}": "{{ " + e + " }}" for i, e in enumerate(EXPRS)}
    (work / "exprs.json").write_text(json.dumps({"exprs": exprs}))
    out = work / "out.json"
    play = [{
        "hosts": "all", "gather_facts": False, "vars_files": ["vars.json", "exprs.json"],
        "tasks": [{"copy": {"dest": str(out), "content": "{{ exprs | to_json }}"}}],
    }]
    (work / "site.yml").write_text(yaml.safe_dump(play))
    (work / "inv.ini").write_text(f"h1 ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(work / ".tmp"),
           "ANSIBLE_HOME": str(work / ".ansible"), "ANSIBLE_RETRY_FILES_ENABLED": "0",
           "HOSTPREP_ORACLE_ENV": "from-env", "ANSIBLE_DEPRECATION_WARNINGS": "0"}
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(work / "inv.ini"), str(work / "site.yml")],
                          capture_output=True, text=True, cwd=work, env=env, timeout=600)
    assert out.exists(), proc.stdout[-4000:] + proc.stderr[-4000:]
    return json.loads(out.read_text())


def _write_files(work: Path) -> None:
    (work / "files").mkdir()
    (work / "templates").mkdir()
    (work / "files" / "data.txt").write_text("file data\n\n")
    (work / "files" / "more.txt").write_text("x\n")
    (work / "files" / "spaced.txt").write_text("  \n lead and trail \t\n\n")
    (work / "files" / "users.csv").write_text("alice,1001,wheel\nbob,1002,dev\n")
    (work / "app.ini").write_text("[global]\nname=top\n[db]\nport=5432\nhost = db.local\n[web]\nport=80\n")
    (work / "app.properties").write_text("user.name=jdoe\nuser.home=/home/jdoe\n")
    (work / "templates" / "greet.j2").write_text("hi {{ who | default('nobody') }} from {{ s }}\n")
    (work / "users.csv").write_text("zed,9\n")  # a decoy the files/ directory wins over
    (work / "decoy.csv").write_text("x\n")
    (work / "files" / "real.csv").write_text("y\n")
    (work / "files" / "secret.yml").write_text(encrypt(b"k: v\n", b"pw"))


def _hostprep_value(templar: Templar, expr: str) -> object:
    try:
        return json.loads(f_to_json(templar.evaluate(expr)))
    except InputError as exc:  # a TemplateError, or a lookup's error
        return f"<error: {exc.message}>"


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    tmp = tmp_path_factory.mktemp("oracle")
    theirs = _ansible_values(tmp)
    work = tmp / "hostprep"
    work.mkdir()
    _write_files(work)
    os.environ["HOSTPREP_ORACLE_ENV"] = "from-env"
    cwd = os.getcwd()
    os.chdir(work)
    try:
        templar = Templar({**VARS, "playbook_dir": str(work)}, searchpath=[work])
        ours = {f"e{i:03d}": _hostprep_value(templar, e) for i, e in enumerate(EXPRS)}
    finally:
        os.chdir(cwd)
        os.environ.pop("HOSTPREP_ORACLE_ENV", None)
    return theirs, ours


def test_oracle_covers_at_least_200_expressions() -> None:
    assert len(EXPRS) >= 200 and len(set(EXPRS)) == len(EXPRS)


def test_every_expression_gives_ansibles_value(oracle: tuple[dict, dict]) -> None:
    theirs, ours = oracle
    assert set(theirs) == set(ours)
    diffs = [f"{EXPRS[int(k[1:])]!r}: ansible={theirs[k]!r} hostprep={ours[k]!r}"
             for k in sorted(theirs) if theirs[k] != ours[k]]
    assert not diffs, f"{len(diffs)} of {len(EXPRS)} differ:\n" + "\n".join(diffs)
