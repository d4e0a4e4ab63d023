"""YAML loading that remembers where every mapping and key came from.

Errors in playbooks, roles and inventories must name file, line and key. PyYAML's safe
loader drops positions, so this loader builds `PosDict`/`PosList` (plain dict/list
subclasses) that carry `.file`, `.line` and, for mappings, the line of each key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from hostprep.errors import InputError


class PosDict(dict):
    """A dict that knows the file and line it was read from, and each key's line."""

    file: str | None = None
    line: int | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int | None:
        """Line of `key` if known, else the mapping's own line."""
        return self.key_lines.get(key, self.line)

    def error(self, message: str, key: str | None = None) -> InputError:
        """An InputError pointing at this mapping (or one of its keys)."""
        return InputError(message, file=self.file, line=self.line_of(key) if key else self.line, key=key)


class PosList(list):
    """A list that knows the file and line it was read from."""

    file: str | None = None
    line: int | None = None


class _PosLoader(yaml.SafeLoader):
    """SafeLoader building PosDict/PosList with 1-based line numbers."""

    source_name: str | None = None


def _construct_mapping(loader: _PosLoader, node: yaml.MappingNode) -> PosDict:
    loader.flatten_mapping(node)
    result = PosDict()
    result.file = loader.source_name
    result.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise InputError(
                "unhashable mapping key", file=loader.source_name, line=key_node.start_mark.line + 1
            )
        if key in result:
            raise InputError(
                "duplicate key in mapping",
                file=loader.source_name,
                line=key_node.start_mark.line + 1,
                key=str(key),
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _PosLoader, node: yaml.SequenceNode) -> PosList:
    result = PosList(loader.construct_object(child, deep=True) for child in node.value)
    result.file = loader.source_name
    result.line = node.start_mark.line + 1
    return result


def _construct_vault(loader: _PosLoader, node: yaml.Node) -> Any:
    """An inline `!vault |` value: decrypted with the run's vault passwords, remembered as a secret."""
    from hostprep.vault import keyring

    line = node.start_mark.line + 1
    vaulted = str(loader.construct_scalar(node))
    text = keyring.decrypt_text(vaulted, loader.source_name, line)
    try:
        value = VaultText(text.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError("!vault value is not UTF-8 text", file=loader.source_name, line=line) from None
    value.ciphertext = vaulted
    return keyring.reveal(value)


class VaultText(str):
    """The plaintext of an inline `!vault` value; `ciphertext` keeps the vaulted text (ansible-inventory
    prints that, not the plaintext)."""

    ciphertext: str = ""


_PosLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_PosLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
_PosLoader.add_constructor("!vault", _construct_vault)
# Ansible's !unsafe marks a string that must never be templated; keep it as a plain str subclass.


class UnsafeText(str):
    """A string from `!unsafe`: never rendered as a template."""


_PosLoader.add_constructor("!unsafe", lambda loader, node: UnsafeText(loader.construct_scalar(node)))


def load_yaml_text(text: str, source: str | None = None) -> Any:
    """Parse YAML text; syntax errors become InputError with file and line."""
    loader = _PosLoader(text)
    loader.source_name = source
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise InputError(f"malformed YAML: {exc.problem or exc}", file=source, line=line) from None
    except yaml.YAMLError as exc:
        raise InputError(f"malformed YAML: {exc}", file=source) from None
    finally:
        loader.dispose()


def load_yaml_file(path: str | Path) -> Any:
    """Read and parse a YAML file, naming it in every error."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror}", file=str(path)) from None
    if text.startswith("$ANSIBLE_VAULT"):  # a vaulted file: its values are secrets
        from hostprep.vault import keyring

        try:
            plain = keyring.decrypt_text(text, str(path)).decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("vaulted file is not UTF-8 text", file=str(path)) from None
        return keyring.reveal(load_yaml_text(plain, str(path)))
    return load_yaml_text(text, str(path))
