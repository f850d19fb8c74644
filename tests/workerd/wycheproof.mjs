// Test fixture: signature checks with workerd's own WebCrypto (BoringSSL), the way the edge
// imports and uses keys (shared/src/crypto/webcrypto.rs, `import_params` and
// `verify_params`): a JWK imported non-extractable for "verify", then `crypto.subtle.verify`.
//
// POST {"alg": "RS256"|...|"ES512"|"EdDSA", "jwk": {...}, "vectors": [[msg, sig], ...]}
// (base64url) answers {"results": ["valid"|"invalid"|"error:<name>", ...]}, or
// {"import_error": "<name>"} when the key cannot be imported.

const IMPORT = {
  RS256: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  RS384: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-384" },
  RS512: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-512" },
  PS256: { name: "RSA-PSS", hash: "SHA-256" },
  PS384: { name: "RSA-PSS", hash: "SHA-384" },
  PS512: { name: "RSA-PSS", hash: "SHA-512" },
  ES256: { name: "ECDSA", namedCurve: "P-256" },
  ES384: { name: "ECDSA", namedCurve: "P-384" },
  ES512: { name: "ECDSA", namedCurve: "P-521" },
  EdDSA: { name: "Ed25519" },
};

const VERIFY = {
  RS256: { name: "RSASSA-PKCS1-v1_5" },
  RS384: { name: "RSASSA-PKCS1-v1_5" },
  RS512: { name: "RSASSA-PKCS1-v1_5" },
  // RFC 7518 §3.5: the salt is as long as the hash output.
  PS256: { name: "RSA-PSS", saltLength: 32 },
  PS384: { name: "RSA-PSS", saltLength: 48 },
  PS512: { name: "RSA-PSS", saltLength: 64 },
  ES256: { name: "ECDSA", hash: "SHA-256" },
  ES384: { name: "ECDSA", hash: "SHA-384" },
  ES512: { name: "ECDSA", hash: "SHA-512" },
  EdDSA: { name: "Ed25519" },
};

function bytes(text) {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

export default {
  async fetch(request) {
    if (request.method !== "POST") return new Response("POST a batch of vectors\n");
    const batch = await request.json();
    if (!(batch.alg in IMPORT)) return new Response("unknown alg", { status: 400 });
    let key;
    try {
      key = await crypto.subtle.importKey("jwk", batch.jwk, IMPORT[batch.alg], false, ["verify"]);
    } catch (e) {
      return Response.json({ import_error: String(e && e.name) });
    }
    const results = [];
    for (const [msg, sig] of batch.vectors) {
      try {
        const ok = await crypto.subtle.verify(VERIFY[batch.alg], key, bytes(sig), bytes(msg));
        results.push(ok ? "valid" : "invalid");
      } catch (e) {
        results.push("error:" + String(e && e.name));
      }
    }
    return Response.json({ results });
  },
};
