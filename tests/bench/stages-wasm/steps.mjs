// What `run.mjs` (Node) and `worker.mjs` (workerd) share: the token, minted here with
// WebCrypto (RS256, a 2048-bit key, claims like the bench's workers get), the `Stages`
// object, and the steps with their batch sizes.
const issuer = 'https://issuer.bench.test';
const audience = 'bench-client';

const b64 = (bytes) => {
  let text = '';
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text).replaceAll('+', '-').replaceAll('/', '_').replaceAll('=', '');
};
const utf8 = (s) => new TextEncoder().encode(s);

export async function setup(glue) {
  const { publicKey, privateKey } = await crypto.subtle.generateKey(
    { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    true, ['sign', 'verify']);
  const jwk = await crypto.subtle.exportKey('jwk', publicKey);
  const jwks = JSON.stringify({ keys: [{ kty: 'RSA', n: jwk.n, e: jwk.e, kid: 'k1', alg: 'RS256', use: 'sig' }] });
  const now = Math.floor(Date.now() / 1000);
  const header = b64(utf8(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: 'k1' })));
  const claims = b64(utf8(JSON.stringify({
    iss: issuer, aud: audience, sub: 'user-1', group: ['AVP_Admin'], iat: now - 5, exp: now + 7200, jti: 'bench-1',
  })));
  const input = `${header}.${claims}`;
  const signature = await crypto.subtle.sign('RSASSA-PKCS1-v1_5', privateKey, utf8(input));
  const token = `${input}.${b64(signature)}`;
  const stages = await glue.Stages.create(issuer, audience, jwks, token, now);
  const request = new Request('https://api.example/pets/7', { headers: { authorization: `Bearer ${token}` } });
  // The floor worker's check, from JavaScript: the key imported once from the JWK.
  const key = await crypto.subtle.importKey('jwk', JSON.parse(jwks).keys[0],
    { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['verify']);
  const signed = utf8(input);
  const subtle = async (n) => {
    let sum = 0;
    for (let i = 0; i < n; i++) {
      if (await crypto.subtle.verify('RSASSA-PKCS1-v1_5', key, signature, signed)) sum++;
    }
    return sum;
  };
  return { stages, request, subtle };
}

// [name, run n times, batch size, whether it writes to the console]
export function steps({ stages, request, subtle }) {
  return [
    ['read_request', (n) => stages.read_request(request, n), 1000, false],
    ['token_key', (n) => stages.token_key(n), 1000, false],
    ['cache_hit', (n) => stages.cache_hit(n), 1000, false],
    ['decide', (n) => stages.decide(n), 200, false],
    ['identity_headers', (n) => stages.identity_headers(n), 1000, false],
    ['respond', (n) => stages.respond(n), 1000, false],
    ['respond_joined', (n) => stages.respond_joined(n), 1000, false],
    ['log_line', (n) => stages.log_line(n), 1000, false],
    ['console_log', (n) => stages.console_log(n), 1000, true],
    ['parse', (n) => stages.parse(n), 200, false],
    ['map', (n) => stages.map(n), 200, false],
    ['churn', (n) => stages.churn(n), 200, false],
    ['subtle_js', subtle, 50, false],
    ['signature', (n) => stages.signature(n), 50, false],
    ['parse_verify', (n) => stages.parse_verify(n), 50, false],
    ['authenticate', (n) => stages.authenticate(n), 50, false],
    ['set_up', (n) => stages.set_up(n), 20, false],
  ];
}
