// What a Cloudflare user would write instead of cedargate: jose verifies the JWT,
// @cedar-policy/cedar-wasm decides with the same schema and policies. Written fairly: the
// schema and policies are parsed once per isolate (cedar-wasm's preparse API), keys are
// fetched and imported once (jose's remote JWKS cache), and the request path does only
// verify → map claims → match route → authorize, then one log line (log.mjs), as
// cedargate's edge writes by default.
import { jwtVerify } from 'jose';
import { peer } from './peer.mjs';

export default peer(async (token, state) => (await jwtVerify(token, state.jwks, state.options)).payload);
