"""The vault text format: a `$ANSIBLE_VAULT;1.1;AES256` (or `;1.2;AES256;LABEL`) header line, then the
hex of `hex(salt) \\n hex(hmac) \\n hex(ciphertext)` in lines of 80 characters."""

from __future__ import annotations

import binascii
from dataclasses import dataclass

HEADER = "$ANSIBLE_VAULT"
DEFAULT_ID = "default"


class VaultFormatError(ValueError):
    """Text that claims to be vaulted but is not in the format."""


@dataclass
class Envelope:
    version: str
    cipher: str
    vault_id: str | None
    salt: bytes
    hmac: bytes
    ciphertext: bytes


def is_vaulted(data: str | bytes) -> bool:
    """True for text that starts with the vault header."""
    if isinstance(data, bytes):
        return data.lstrip().startswith(HEADER.encode())
    return data.lstrip().startswith(HEADER)


def parse(text: str | bytes) -> Envelope:
    """Split vaulted text into its header fields and the three binary parts."""
    if isinstance(text, bytes):
        text = text.decode("ascii", errors="replace")
    lines = text.strip().splitlines()
    if not lines:
        raise VaultFormatError("empty vault text")
    header = [h.strip() for h in lines[0].strip().split(";")]
    if header[0] != HEADER or len(header) < 3:
        raise VaultFormatError("not a vault header (expected $ANSIBLE_VAULT;1.1;AES256)")
    version, cipher = header[1], header[2]
    if version not in ("1.1", "1.2"):
        raise VaultFormatError(f"unsupported vault format version {version!r} (1.1 and 1.2 are)")
    if cipher != "AES256":
        raise VaultFormatError(f"unsupported vault cipher {cipher!r} (AES256 is)")
    vault_id = header[3] if version == "1.2" and len(header) > 3 else None
    body = "".join(line.strip() for line in lines[1:])
    try:
        inner = binascii.unhexlify(body).decode("ascii")
        salt_hex, hmac_hex, cipher_hex = inner.split("\n", 2)
        return Envelope(version, cipher, vault_id, binascii.unhexlify(salt_hex), binascii.unhexlify(hmac_hex),
                        binascii.unhexlify(cipher_hex.strip()))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise VaultFormatError("the vault body is not valid hex of salt, hmac and ciphertext") from None


def format_envelope(salt: bytes, hmac: bytes, ciphertext: bytes, vault_id: str | None = None) -> str:
    """The vaulted text, 1.2 with the label when the vault id is not `default` (as ansible-vault writes)."""
    if vault_id and vault_id != DEFAULT_ID:
        header = f"{HEADER};1.2;AES256;{vault_id}"
    else:
        header = f"{HEADER};1.1;AES256"
    inner = b"\n".join(binascii.hexlify(part) for part in (salt, hmac, ciphertext))
    body = binascii.hexlify(inner).decode("ascii")
    lines = [body[i:i + 80] for i in range(0, len(body), 80)]
    return "\n".join([header, *lines]) + "\n"
