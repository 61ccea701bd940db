// Node's `jose` verifying a latchkey access token from the JWKS URL, as a resource server would:
// `node verify.mjs JWKS_URL TOKEN accept|refuse`. In `accept` mode it also checks that an HS256
// token made with the published public key as the HMAC secret is refused (key confusion).
import { createRemoteJWKSet, jwtVerify, SignJWT, decodeProtectedHeader } from 'jose';

const [jwksUrl, token, expected] = process.argv.slice(2);
const options = { issuer: 'latchkey', audience: 'latchkey', typ: 'at+jwt' };
// A fresh set per run: its cache starts empty, as after a verifier's cache refresh.
const jwks = createRemoteJWKSet(new URL(jwksUrl));

async function verifies(candidate) {
  try {
    await jwtVerify(candidate, jwks, options);
    return true;
  } catch (error) {
    console.log(`jose: refused (${error.code ?? error.message})`);
    return false;
  }
}

let ok = (await verifies(token)) === (expected === 'accept');
if (expected === 'accept') {
  const { kid } = decodeProtectedHeader(token);
  const published = await (await fetch(jwksUrl)).json();
  const key = published.keys.find((candidate) => candidate.kid === kid);
  const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
  for (const secret of [JSON.stringify(key), `${key.x}${key.y ?? ''}`]) {
    const forged = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid })
      .sign(new TextEncoder().encode(secret));
    if (await verifies(forged)) {
      console.log('jose: ACCEPTED an HS256 token made with the public key');
      ok = false;
    }
  }
}
console.log(`jose: ${expected} ${ok ? 'as expected' : 'NOT as expected'}`);
process.exit(ok ? 0 : 1);
