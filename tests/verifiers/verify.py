"""PyJWT verifying a latchkey access token from the JWKS URL, as a resource server would:
`python verify.py JWKS_URL TOKEN accept|refuse`. In `accept` mode it also checks that an HS256
token made with the published public key as the HMAC secret is refused (key confusion)."""

import base64
import hashlib
import hmac
import json
import sys

import jwt

jwks_url, token, expected = sys.argv[1:4]
# A fresh client per run: its cache starts empty, as after a verifier's cache refresh.
client = jwt.PyJWKClient(jwks_url, cache_keys=False)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def verifies(candidate: str) -> bool:
    try:
        key = client.get_signing_key_from_jwt(candidate)
        # The algorithm comes from the published key, never from the token's header.
        jwt.decode(
            candidate,
            key,
            algorithms=[key.algorithm_name],
            audience="latchkey",
            issuer="latchkey",
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
        if jwt.get_unverified_header(candidate).get("typ") != "at+jwt":
            raise jwt.InvalidTokenError("typ is not at+jwt")
        return True
    except (jwt.PyJWTError, jwt.PyJWKClientError) as error:
        print(f"pyjwt: refused ({type(error).__name__}: {error})")
        return False


ok = verifies(token) == (expected == "accept")
if expected == "accept":
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    with_kid = [k for k in client.get_jwk_set().keys if k.key_id == header["kid"]]
    public = client.fetch_data()["keys"]
    raw = next(k for k in public if k["kid"] == header["kid"])
    for secret in (json.dumps(raw), raw["x"] + raw.get("y", "")):
        # PyJWT itself refuses to HMAC with a PEM or JWK-looking secret; sign by hand.
        message = (
            b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": header["kid"]}).encode())
            + "."
            + b64(json.dumps(claims).encode())
        )
        signature = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
        if verifies(message + "." + b64(signature)):
            print("pyjwt: ACCEPTED an HS256 token made with the public key")
            ok = False
    assert with_kid, "the token's key is published"
print(f"pyjwt: {expected} {'as expected' if ok else 'NOT as expected'}")
sys.exit(0 if ok else 1)
