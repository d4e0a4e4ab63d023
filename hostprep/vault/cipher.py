"""Vault's AES256 scheme, implemented from its published format with the `cryptography` library.

A key of 80 bytes is derived from the password and a random 32-byte salt with PBKDF2-HMAC-SHA256
(10000 iterations): 32 bytes of AES key, 32 of HMAC key, 16 of counter IV. The plaintext is PKCS#7
padded to the AES block, encrypted with AES-256-CTR, and the ciphertext authenticated with
HMAC-SHA256; the HMAC is checked (in constant time) before anything is decrypted.
"""

from __future__ import annotations

import hmac as _hmac
import os

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from hostprep.vault.envelope import Envelope, format_envelope, parse

ITERATIONS = 10000
KEY_LEN = 32
IV_LEN = 16
SALT_LEN = 32


class VaultDecryptError(ValueError):
    """The password does not open this vault text (HMAC mismatch)."""


def _keys(password: bytes, salt: bytes) -> tuple[bytes, bytes, bytes]:
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=2 * KEY_LEN + IV_LEN, salt=salt, iterations=ITERATIONS)
    derived = kdf.derive(password)
    return derived[:KEY_LEN], derived[KEY_LEN:2 * KEY_LEN], derived[2 * KEY_LEN:]


def _mac(key: bytes, data: bytes) -> bytes:
    mac = crypto_hmac.HMAC(key, hashes.SHA256())
    mac.update(data)
    return mac.finalize()


def encrypt(plaintext: bytes, password: bytes, vault_id: str | None = None, *, salt: bytes | None = None) -> str:
    """Vaulted text of `plaintext` (a fresh random salt unless one is given, for tests)."""
    salt = salt if salt is not None else os.urandom(SALT_LEN)
    aes_key, mac_key, iv = _keys(password, salt)
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    padded = padder.update(plaintext) + padder.finalize()
    enc = Cipher(algorithms.AES(aes_key), modes.CTR(iv)).encryptor()
    ciphertext = enc.update(padded) + enc.finalize()
    return format_envelope(salt, _mac(mac_key, ciphertext), ciphertext, vault_id)


def decrypt_envelope(env: Envelope, password: bytes) -> bytes:
    """The plaintext of a parsed envelope; VaultDecryptError when the password is not the one."""
    aes_key, mac_key, iv = _keys(password, env.salt)
    if not _hmac.compare_digest(_mac(mac_key, env.ciphertext), env.hmac):
        raise VaultDecryptError("HMAC verification failed: wrong vault password")
    dec = Cipher(algorithms.AES(aes_key), modes.CTR(iv)).decryptor()
    padded = dec.update(env.ciphertext) + dec.finalize()
    unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise VaultDecryptError("bad padding after decryption") from None


def decrypt(text: str | bytes, password: bytes) -> bytes:
    """The plaintext of vaulted text."""
    return decrypt_envelope(parse(text), password)
