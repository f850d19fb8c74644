// The floor for a new token on this runtime: WebCrypto's RS256 check of the bearer token's
// signature and nothing else (no claims, no issuer or audience, no policy). The key set is
// fetched and the RSA key imported once per isolate, at the first request, as the guards do.
let key = null;

async function importKey(env) {
  const reply = await fetch(env.JWKS_URL);
  const { keys } = await reply.json();
  const jwk = keys.find((k) => k.kty === 'RSA');
  return crypto.subtle.importKey('jwk', jwk, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['verify']);
}

function base64url(text) {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

const encoder = new TextEncoder();

export default {
  async fetch(request, env) {
    key ??= importKey(env);
    const header = request.headers.get('authorization') ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7) : '';
    const dot = token.lastIndexOf('.');
    if (dot < 0) return new Response(null, { status: 401 });
    let valid = false;
    try {
      valid = await crypto.subtle.verify(
        'RSASSA-PKCS1-v1_5',
        await key,
        base64url(token.slice(dot + 1)),
        encoder.encode(token.slice(0, dot)),
      );
    } catch {
      valid = false;
    }
    return new Response(null, { status: valid ? 204 : 401 });
  },
};
