// The Node origin's assertion check (assertion.mjs, what the identity-assertion guide shows) against
// assertions signed here like the edge signs them: valid, missing, tampered, expired, for
// another request or another origin, and replayed.
//
//   node --test tests/demo/assertion.test.mjs      (cargo xtask test runs it)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { verifierFor } from './assertion.mjs';

const EDGE = 'https://edge.petstore.test';
const ORIGIN = 'https://origin.petstore.test';
const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', use: 'sig', alg: 'EdDSA' };

let serial = 0;
function sign(claims = {}, header = {}) {
  const now = Math.floor(Date.now() / 1000);
  const h = Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'cedargate-assertion+jwt', kid: 'k1', ...header })).toString('base64url');
  const p = Buffer.from(JSON.stringify({
    iss: EDGE, aud: ORIGIN, iat: now, exp: now + 60, jti: `r-${serial++}`, sub: 'alice',
    principal: 'PetStore::User::"alice"', groups: ['AVP_Admin'], anonymous: false,
    action: 'get /pets', method: 'GET', path: '/pets', query: 'type=dog', policies: ['avp-admin-all'],
    ...claims,
  })).toString('base64url');
  const s = crypto.sign(null, Buffer.from(`${h}.${p}`), privateKey).toString('base64url');
  return `${h}.${p}.${s}`;
}

const request = (jwt, method = 'GET', url = '/pets?type=dog') => ({
  method, url, headers: jwt === undefined ? {} : { 'x-cedargate-assertion': jwt },
});

test('the origin takes an assertion of the edge for this request once, and nothing else', () => {
  const verify = verifierFor({ keys: [jwk], issuer: EDGE, audience: ORIGIN });
  const jwt = sign();
  assert.equal(verify(request(jwt)).sub, 'alice');
  assert.throws(() => verify(request(jwt)), /replayed/);
  assert.throws(() => verify(request(undefined)), /no assertion/);
  assert.throws(() => verify(request(sign(), 'DELETE')), /another request/);
  assert.throws(() => verify(request(sign(), 'GET', '/pets/7')), /another request/);
  assert.throws(() => verify(request(sign(), 'GET', '/pets?type=cat')), /another request/);
  assert.throws(() => verify(request(sign({ aud: 'https://elsewhere.test' }))), /another edge or origin/);
  const now = Math.floor(Date.now() / 1000);
  assert.throws(() => verify(request(sign({ iat: now - 120, exp: now - 60 }))), /expired/);
  assert.throws(() => verify(request(sign({}, { kid: 'other' }))), /unknown assertion key/);
  assert.throws(() => verify(request(sign({}, { typ: 'JWT' }))), /unknown assertion key/);
  const [h, p, s] = sign().split('.');
  const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url')), sub: 'mallory' })).toString('base64url');
  assert.throws(() => verify(request(`${h}.${forged}.${s}`)), /bad assertion signature/);
  // A request without a query, and an assertion without one.
  assert.equal(verify(request(sign({ query: undefined }), 'GET', '/pets')).path, '/pets');
});
