"""Personal data: phone numbers encrypted at rest (a Fernet key derived from the secret key) and masked for display."""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# Distinct "info" per purpose, so a key derived for phones is useless for anything else.
_PHONE_INFO = b"shegong/phone-at-rest/v1"
_MESSAGE_INFO = b"shegong/message-at-rest/v1"


class DecryptionError(ValueError):
    """The ciphertext was not made with this secret key (or was altered)."""


@lru_cache(maxsize=8)
def _fernet(secret_key: str, info: bytes) -> Fernet:
    if not secret_key:
        raise ValueError("SHEGONG_SECRET_KEY is empty; cannot encrypt personal data")
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret_key.encode("utf-8"))
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt_phone(secret_key: str, phone: str) -> str:
    return _fernet(secret_key, _PHONE_INFO).encrypt(phone.encode("utf-8")).decode("ascii")


def decrypt_phone(secret_key: str, token: str) -> str:
    try:
        return _fernet(secret_key, _PHONE_INFO).decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise DecryptionError("phone number cannot be decrypted with this key") from exc


def mask_phone(phone: str) -> str:
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) < 7:
        return "***"
    return f"{digits[:3]}****{digits[-4:]}"


def seal_message(secret_key: str, text: str) -> str:
    """A resident's words in full, encrypted: kept beside the masked copy for a worker allowed to see them."""
    return _fernet(secret_key, _MESSAGE_INFO).encrypt(text.encode("utf-8")).decode("ascii")


def unseal_message(secret_key: str, token: str) -> str:
    try:
        return _fernet(secret_key, _MESSAGE_INFO).decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise DecryptionError("message cannot be decrypted with this key") from exc
