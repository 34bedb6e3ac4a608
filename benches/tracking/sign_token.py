#!/usr/bin/env python3
"""Signs a mailtrail open token, as the worker does (see
crates/mailtrail-domain/src/token.rs): version(1) purpose(1) key_id(1)
recipient(16) payload mac(12), base64url without padding; the payload is
the issue time (u32 seconds, big-endian). Usage: sign_token.py SECRET_FILE
RECIPIENT_UUID [AGE_SECONDS]"""
import base64, hashlib, hmac, struct, sys, time, uuid

secret = open(sys.argv[1]).read().strip().encode()
recipient = uuid.UUID(sys.argv[2]).bytes
age = int(sys.argv[3]) if len(sys.argv) > 3 else 3600
body = bytes([1, 1, 1]) + recipient + struct.pack(">I", int(time.time()) - age)
mac = hmac.new(secret, body, hashlib.sha256).digest()[:12]
print(base64.urlsafe_b64encode(body + mac).decode().rstrip("="))
