"""Streaming authenticated encryption of backup files: AES-256-GCM in 1 MiB segments.

Why this and not `openssl enc -aes-256-cbc`: CBC is unauthenticated, so a wrong key or
a flipped byte can go unnoticed until a restore fails half-way (or not at all). GCM
authenticates every segment; the nonce carries a segment counter and a last-segment
flag (the STREAM construction, as in Tink's streaming AEAD), so reordering, dropping or
truncating segments fails too. Each file gets its own key, derived with HKDF-SHA256 from
the master key and a random salt, so nonces never repeat across files. `cryptography` is
already a platform dependency; no extra binary is needed.

File layout: MAGIC | salt (16) | nonce prefix (7) | segments, each `ciphertext || tag`.
Segment i is sealed with nonce = prefix || i (4 bytes, big endian) || last (1 byte), and
the header as associated data.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"SVBK\x01"
SALT_BYTES = 16
PREFIX_BYTES = 7
TAG_BYTES = 16
SEGMENT_BYTES = 1 << 20
HEADER_BYTES = len(MAGIC) + SALT_BYTES + PREFIX_BYTES
KEY_BYTES = 32
INFO = b"sevensa-backup/v1 aes-256-gcm stream"
FORMAT = "SVBK1 (AES-256-GCM, 1 MiB segments, HKDF-SHA256 per-file key)"


class DecryptionError(Exception):
    """The file cannot be decrypted: wrong key, corruption, tampering or truncation."""


def load_key(path: Path) -> bytes:
    """The 32-byte master key from its file (64 hex characters)."""
    text = path.read_text().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"{path}: the backup key must be {KEY_BYTES * 2} hex characters") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"{path}: the backup key must be {KEY_BYTES} bytes ({KEY_BYTES * 2} hex characters), got {len(key)}")
    return key


def _file_key(master: bytes, salt: bytes) -> AESGCM:
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=INFO).derive(master))


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    if index >= 2**32:
        raise ValueError("backup file too large for one stream (2^32 segments)")
    return prefix + struct.pack(">I", index) + (b"\x01" if last else b"\x00")


class EncryptingWriter:
    """A write-only binary file object that encrypts into `sink`; `close()` seals the last segment."""

    def __init__(self, sink: BinaryIO, master_key: bytes) -> None:
        salt, self._prefix = os.urandom(SALT_BYTES), os.urandom(PREFIX_BYTES)
        self._header = MAGIC + salt + self._prefix
        self._aead = _file_key(master_key, salt)
        self._sink = sink
        self._buffer = bytearray()
        self._index = 0
        self._closed = False
        sink.write(self._header)

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:
        if self._closed:
            raise ValueError("write to a closed EncryptingWriter")
        self._buffer += data
        # hold back at least one byte: the last segment is only known at close()
        while len(self._buffer) > SEGMENT_BYTES:
            self._seal(bytes(self._buffer[:SEGMENT_BYTES]), last=False)
            del self._buffer[:SEGMENT_BYTES]
        return len(data)

    def flush(self) -> None:
        self._sink.flush()

    def close(self) -> None:
        if not self._closed:
            self._seal(bytes(self._buffer), last=True)
            self._buffer.clear()
            self._closed = True
            self._sink.flush()

    def _seal(self, segment: bytes, last: bool) -> None:
        self._sink.write(self._aead.encrypt(_nonce(self._prefix, self._index, last), segment, self._header))
        self._index += 1

    def __enter__(self) -> EncryptingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def decrypt_stream(source: BinaryIO, sink: BinaryIO, master_key: bytes) -> int:
    """Decrypt `source` into `sink`; returns the plaintext size. Raises `DecryptionError`."""
    header = source.read(HEADER_BYTES)
    if len(header) != HEADER_BYTES or not header.startswith(MAGIC):
        raise DecryptionError("not a platform backup file (bad header)")
    salt = header[len(MAGIC) : len(MAGIC) + SALT_BYTES]
    prefix = header[len(MAGIC) + SALT_BYTES :]
    aead = _file_key(master_key, salt)
    size, index = 0, 0
    segment = source.read(SEGMENT_BYTES + TAG_BYTES)
    while True:
        following = source.read(SEGMENT_BYTES + TAG_BYTES)
        last = not following
        try:
            plaintext = aead.decrypt(_nonce(prefix, index, last), segment, header)
        except InvalidTag:
            raise DecryptionError(
                f"segment {index} failed authentication: wrong key, or the file is corrupted, tampered with or truncated"
            ) from None
        sink.write(plaintext)
        size += len(plaintext)
        if last:
            return size
        segment, index = following, index + 1


def encrypt_file(source: Path, target: Path, master_key: bytes) -> None:
    with source.open("rb") as plain, target.open("wb") as sink, EncryptingWriter(sink, master_key) as writer:
        while chunk := plain.read(SEGMENT_BYTES):
            writer.write(chunk)


def decrypt_file(source: Path, target: Path, master_key: bytes) -> int:
    """Decrypt to `target` atomically: on any failure nothing is left at `target`."""
    partial = target.with_name(target.name + ".partial")
    try:
        with source.open("rb") as encrypted, partial.open("wb") as plain:
            size = decrypt_stream(encrypted, plain, master_key)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    return size
