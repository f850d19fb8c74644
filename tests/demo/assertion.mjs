// Verifies cedargate's signed identity assertion (`X-Cedargate-Assertion`) in a Node origin,
// with nothing but node:crypto: the edge's public keys from `/.cedargate/jwks`, then for
// every request the signature, type, issuer, audience, lifetime, that it is for this very
// request (method, path, query) and that it was not used before. The book's
// identity-assertion guide (docs/src/howto/identity-assertion.md) shows this code.
import crypto from 'node:crypto';

export async function assertionVerifier({ jwksUrl, issuer, audience }) {
  const { keys } = await (await fetch(jwksUrl)).json();
  return verifierFor({ keys, issuer, audience });
}

/** The check of one request, with the edge's keys (a JWKS document's `keys`) at hand. */
export function verifierFor({ keys, issuer, audience }) {
  const byKid = new Map(keys.map((k) => [k.kid, crypto.createPublicKey({ key: k, format: 'jwk' })]));
  const seen = new Map(); // request id → exp: each assertion is taken once
  return function verify(req) {
    const [h, p, s, extra] = String(req.headers['x-cedargate-assertion'] ?? '').split('.');
    if (!s || extra !== undefined) throw new Error('no assertion');
    const header = JSON.parse(Buffer.from(h, 'base64url'));
    const key = byKid.get(header.kid);
    if (header.alg !== 'EdDSA' || header.typ !== 'cedargate-assertion+jwt' || !key) throw new Error('unknown assertion key');
    if (!crypto.verify(null, Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url'))) throw new Error('bad assertion signature');
    const a = JSON.parse(Buffer.from(p, 'base64url'));
    const now = Date.now() / 1000;
    if (a.iss !== issuer || a.aud !== audience) throw new Error('assertion for another edge or origin');
    if (a.exp + 5 <= now || a.iat > now + 5 || a.exp - a.iat > 300) throw new Error('assertion expired');
    const url = new URL(req.url, 'http://origin');
    if (a.method !== req.method || a.path !== url.pathname || (a.query ?? '') !== url.search.slice(1)) {
      throw new Error('assertion for another request');
    }
    for (const [jti, exp] of seen) if (exp + 5 <= now) seen.delete(jti);
    if (seen.has(a.jti)) throw new Error('assertion replayed');
    seen.set(a.jti, a.exp);
    return a;
  };
}
