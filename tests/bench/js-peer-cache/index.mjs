// The JavaScript peer (../js-peer/index.mjs) as a careful user would write it: the same
// jose + @cedar-policy/cedar-wasm request path, plus a cache of verified tokens. The cache
// is a Map keyed by the token string; an entry is dropped once the token's `exp` has passed
// (checked on every hit), and at most TOKEN_CACHE_ENTRIES are kept (the oldest entry goes
// first when it is full — cedargate's edge keeps 1024 too). Cedar still decides on every
// request: only the signature and claim checks are skipped for a token seen before. Each
// request writes one log line (../js-peer/log.mjs) with the cache's hit or miss.
import { jwtVerify } from 'jose';
import { peer } from '../js-peer/peer.mjs';

const TOKEN_CACHE_ENTRIES = 1024;
// token → { claims, expires (ms since the epoch) }
const verified = new Map();

// The token's claims, verified now or before; `r.token_cache` says which.
async function verify(token, state, r) {
  const now = Date.now();
  const hit = verified.get(token);
  if (hit) {
    if (hit.expires > now) {
      r.token_cache = 'hit';
      return hit.claims;
    }
    verified.delete(token);
  }
  r.token_cache = 'miss';
  const { payload: claims } = await jwtVerify(token, state.jwks, state.options);
  if (typeof claims.exp === 'number') {
    if (verified.size >= TOKEN_CACHE_ENTRIES) verified.delete(verified.keys().next().value);
    verified.set(token, { claims, expires: claims.exp * 1000 });
  }
  return claims;
}

export default peer(verify);
