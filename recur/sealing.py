"""Sealing secrets recur must be able to read again (webhook signing secrets; per-subscription data keys for
crypto-shredding) under one master key: `RECUR_MASTER_KEY`, base64 of 32 random bytes.

A secret recur only has to *check* (an API key, a subscriber token) is stored as a hash. A secret recur has to
*use* (to sign a webhook with it) cannot be: it is stored sealed with AES-GCM instead. Each purpose gets a key of
its own, derived from the master key with HKDF (so a sealed webhook secret can never be opened as something else),
and each sealed value is bound to the row it belongs to (`context`, the associated data): copied onto another row
it does not open.

A sealed value starts with a version byte and the master key's id (a fingerprint, not the key), so a value sealed
under another master key is reported as such, not as garbage. `check_master_key` stores a sealed canary in the
database the first time it runs and opens it at every start after: a process given the wrong key stops at once
with a clear message, instead of signing with secrets it cannot read.

Shared infrastructure, like `recur.db`: any layer may use it (commands seal, the deliverer opens).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

if TYPE_CHECKING:
    from recur.db import Database

KEY_BYTES = 32
NONCE_BYTES = 12
KEY_ID_BYTES = 8
FORMAT_VERSION = b"\x01"
SETTING = "RECUR_MASTER_KEY"
CANARY_PURPOSE = "master key check"
CANARY = b"recur master key check"


class MasterKeyError(Exception):
    """The master key is missing, malformed, or not the one the stored secrets were sealed with."""


def generate_master_key() -> str:
    """A new master key as RECUR_MASTER_KEY holds it (base64 of 32 random bytes)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


@dataclass(frozen=True)
class MasterKey:
    """The key every sealed secret hangs from. Its bytes never appear in a repr, a log line or an error."""

    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise MasterKeyError(f"{SETTING} must be base64 of exactly {KEY_BYTES} bytes, not {len(self.key)}")

    @classmethod
    def from_setting(cls, raw: str | None) -> MasterKey:
        """The key from RECUR_MASTER_KEY's text; a clear error when it is missing or not 32 bytes of base64."""
        if not raw or not raw.strip():
            raise MasterKeyError(f"{SETTING} is not set: it seals the webhook signing secrets and subscribers' data keys "
                                 f"(base64 of {KEY_BYTES} random bytes; "
                                 "`recur up` makes one in <data dir>/master.key when it is unset)")
        try:
            key = base64.b64decode(raw.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise MasterKeyError(f"{SETTING} is not valid base64") from None
        return cls(key)

    @property
    def key_id(self) -> str:
        """A fingerprint naming this key in sealed values and errors (not enough to find the key)."""
        return hmac.new(self.key, b"recur master key id", hashlib.sha256).hexdigest()[: 2 * KEY_ID_BYTES]

    def derive(self, purpose: str) -> bytes:
        """A key for one purpose alone (HKDF): knowing it reveals neither the master key nor another purpose's key."""
        return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=f"recur {purpose}".encode()).derive(self.key)

    def sealer(self, purpose: str) -> Sealer:
        """Seals and opens the values of one purpose ("webhook secrets"), with a key derived for it alone."""
        return Sealer(AESGCM(self.derive(purpose)), bytes.fromhex(self.key_id))


@dataclass(frozen=True)
class Sealer:
    aead: AESGCM = field(repr=False)
    key_id: bytes

    def seal(self, plaintext: bytes, context: bytes) -> bytes:
        """version | master key id | nonce | ciphertext and tag. `context` (the owning row's ids) must be given again to open."""
        nonce = os.urandom(NONCE_BYTES)
        return FORMAT_VERSION + self.key_id + nonce + self.aead.encrypt(nonce, plaintext, context)

    def open(self, sealed: bytes, context: bytes) -> bytes:
        if sealed[:1] != FORMAT_VERSION or len(sealed) < 1 + KEY_ID_BYTES + NONCE_BYTES + 16:
            raise MasterKeyError("not a value sealed by recur")
        key_id = sealed[1 : 1 + KEY_ID_BYTES]
        if key_id != self.key_id:
            raise MasterKeyError(f"sealed under master key {key_id.hex()}, but {SETTING} is key {self.key_id.hex()}")
        nonce, ciphertext = sealed[1 + KEY_ID_BYTES : 1 + KEY_ID_BYTES + NONCE_BYTES], sealed[1 + KEY_ID_BYTES + NONCE_BYTES :]
        try:
            return self.aead.decrypt(nonce, ciphertext, context)
        except InvalidTag:
            raise MasterKeyError("a sealed value does not open: altered, or moved from the row it was sealed for") from None


def check_master_key(db: Database, key: MasterKey) -> None:
    """At start: the first process to run stores a sealed canary; every later one must open it with its key."""
    sealer = key.sealer(CANARY_PURPOSE)
    row = db.fetchone(
        "INSERT INTO master_key_check (key_id, sealed) VALUES (%s, %s) ON CONFLICT (only_row) DO UPDATE "
        "SET only_row = master_key_check.only_row RETURNING key_id, sealed",
        (key.key_id, sealer.seal(CANARY, CANARY_PURPOSE.encode())),
    )
    assert row is not None
    stored_id, sealed = row
    try:
        opened = sealer.open(bytes(sealed), CANARY_PURPOSE.encode())
    except MasterKeyError:
        opened = b""
    if opened != CANARY:
        raise MasterKeyError(f"{SETTING} is key {key.key_id}, but this database's secrets were sealed under key {stored_id}: "
                             "start recur with the master key it was first started with (see <data dir>/master.key)")
