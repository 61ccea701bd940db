#!/usr/bin/env python3
"""Writes password-hash test vectors for `latchkey import`, made by the real Python libraries.

Usage: make_vectors.py OUT.jsonl

One JSON object a line: `label`, the `password` that must sign in, `wrong` passwords that must
not, `also_matches` (passwords the original library accepted too: bcrypt's 72-byte truncation),
and `record`, the import line (email, password_hash, salt, format). tests/api/import.rs reads
the file named by LATCHKEY_IMPORT_VECTORS, or the checked-in tests/import/vectors.jsonl made
by this script.
"""

import json
import sys

import argon2
import bcrypt
from Crypto.Protocol.KDF import PBKDF2
from passlib.hash import pbkdf2_sha1, pbkdf2_sha256, pbkdf2_sha512
from werkzeug.security import generate_password_hash

ASCII = "correct horse battery staple"
NON_ASCII = "Pässwörd-日本語-🔑"
LATIN1 = "crème brûlée àçé"
# 80 bytes in UTF-8: bcrypt looks at the first 72 only.
LONG = "ä" * 30 + "x" * 20
LONG_SAME_PREFIX = LONG.encode()[:72].decode() + "something else entirely"


def user_api(password, salt):
    """What the user-api Flask package stores: hex PBKDF2-HMAC-SHA1, 1000 rounds, 16 bytes,
    the salt column used as text; pycryptodome encodes text as Latin-1."""
    return PBKDF2(password, salt, dkLen=16, count=1000).hex()


def vectors():
    yield "werkzeug pbkdf2 sha256 (default)", ASCII, generate_password_hash(ASCII), None, "werkzeug"
    yield "werkzeug pbkdf2 sha1", NON_ASCII, generate_password_hash(NON_ASCII, "pbkdf2:sha1:50000"), None, None
    yield "werkzeug pbkdf2 sha512", ASCII, generate_password_hash(ASCII, "pbkdf2:sha512:25000"), None, None
    yield "werkzeug scrypt (default)", NON_ASCII, generate_password_hash(NON_ASCII, "scrypt"), None, None
    yield "bcrypt 2b", ASCII, bcrypt.hashpw(ASCII.encode(), bcrypt.gensalt(12)).decode(), None, "bcrypt"
    yield "bcrypt 2a", NON_ASCII, bcrypt.hashpw(NON_ASCII.encode(), bcrypt.gensalt(5, b"2a")).decode(), None, None
    yield "bcrypt over 72 bytes", LONG, bcrypt.hashpw(LONG.encode(), bcrypt.gensalt(5)).decode(), None, None
    yield "passlib pbkdf2_sha256", NON_ASCII, pbkdf2_sha256.hash(NON_ASCII), None, "passlib"
    yield "passlib pbkdf2_sha512", ASCII, pbkdf2_sha512.hash(ASCII), None, None
    yield "passlib pbkdf2 (sha1)", ASCII, pbkdf2_sha1.hash(ASCII), None, None
    yield "user-api", ASCII, user_api(ASCII, "3a9f2c81d0e4b7a6"), "3a9f2c81d0e4b7a6", "user-api"
    yield "user-api latin-1", LATIN1, user_api(LATIN1, "sel-été"), "sel-été", None
    yield "argon2id (argon2-cffi)", NON_ASCII, argon2.PasswordHasher().hash(NON_ASCII), None, None
    yield "argon2i", ASCII, argon2.PasswordHasher(type=argon2.Type.I, memory_cost=8192).hash(ASCII), None, "argon2"


def main():
    (out,) = sys.argv[1:]
    with open(out, "w", encoding="utf-8") as file:
        for number, (label, password, hashed, salt, fmt) in enumerate(vectors(), start=1):
            record = {"email": f"vector-{number}@example.com", "password_hash": hashed}
            if salt is not None:
                record["salt"] = salt
            if fmt is not None:
                record["format"] = fmt
            also = [LONG_SAME_PREFIX] if password == LONG else []
            wrong = ["X" + password, password[1:], "", "correct horse battery stapl€"]
            if len(password.encode()) < 72:
                wrong += [password + "!", password[:-1]]
            line = {"label": label, "password": password, "wrong": wrong,
                    "also_matches": also, "record": record}
            file.write(json.dumps(line, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
