// The PetStore origin of the demo and the browser tests: the AWS example PetStore API
// (GET /, GET /pets, POST /pets, GET /pets/{petId}), kept in memory, DELETE /pets/{petId}
// (guarded by step-up in the context bundle), and GET /health (public in the access-token
// bundle).
//
//   node petstore.mjs --port 9300 [--edge-url http://127.0.0.1:8787 --edge-issuer ISS --audience AUD]
//
// With --edge-url it verifies the edge's signed identity assertion on every request
// (assertion.mjs) and answers 401 to a request without a valid one, a replayed one, or one
// made for another request; who called is then read from the assertion. Without it, it
// trusts the X-Cedargate-* headers, because only the edge worker can reach it.
//
// Every answer carries X-Identity-Echo: what the origin learned about the caller, as JSON (the
// X-Cedargate-* headers it received, without the assertion itself, and the verified
// assertion's subject and claims), so the browser app can show it next to the edge's decision.
import http from 'node:http';
import { parseArgs } from 'node:util';
import { assertionCheck, caller, readJson, send, serve } from './origin.mjs';

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string', default: '9300' },
    'edge-url': { type: 'string' },
    'edge-issuer': { type: 'string' },
    audience: { type: 'string' },
  },
});

const verifyAssertion = assertionCheck(opts);

const pets = [
  { id: 1, type: 'dog', price: 249.99 },
  { id: 2, type: 'cat', price: 124.99 },
  { id: 3, type: 'fish', price: 0.99 },
];

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://origin');
  const known = await caller(req, res, verifyAssertion);
  if (!known) return;
  const { assertion, who } = known;
  try {
    if (req.method === 'GET' && url.pathname === '/health') {
      send(res, 200, { status: 'ok', anonymous: req.headers['x-cedargate-anonymous'] === 'true', verified: Boolean(assertion) });
    } else if (req.method === 'GET' && url.pathname === '/') {
      send(res, 200, `<!doctype html><title>PetStore</title><h1>Welcome to your Pet Store API</h1>
<p>Requested by ${who.replace(/[<>&"']/g, '')}.</p>`, 'text/html; charset=utf-8');
    } else if (req.method === 'GET' && url.pathname === '/pets') {
      const type = url.searchParams.get('type');
      const page = Number(url.searchParams.get('page') ?? '1');
      const list = pets.filter((p) => !type || p.type === type);
      send(res, 200, list.slice((page - 1) * 10, page * 10));
    } else if (req.method === 'POST' && url.pathname === '/pets') {
      const input = await readJson(req);
      const price = Number(input.price);
      if (typeof input.type !== 'string' || !Number.isFinite(price)) {
        send(res, 400, { message: 'type (string) and price (number) are required' });
        return;
      }
      const pet = { id: pets.length + 1, type: input.type, price };
      pets.push(pet);
      send(res, 200, { pet, message: 'success', created_by: who });
    } else if (req.method === 'DELETE' && /^\/pets\/[^/]+$/.test(url.pathname)) {
      const id = Number(decodeURIComponent(url.pathname.split('/')[2]));
      const at = pets.findIndex((p) => p.id === id);
      if (at < 0) {
        send(res, 404, { message: `pet ${id} not found` });
        return;
      }
      const [pet] = pets.splice(at, 1);
      send(res, 200, { pet, message: 'deleted', deleted_by: who });
    } else if (req.method === 'GET' && /^\/pets\/[^/]+$/.test(url.pathname)) {
      const id = Number(decodeURIComponent(url.pathname.split('/')[2]));
      const pet = pets.find((p) => p.id === id);
      if (pet) send(res, 200, pet);
      else send(res, 404, { message: `pet ${id} not found` });
    } else {
      send(res, 404, { message: 'not found' });
    }
  } catch (err) {
    send(res, 400, { message: 'bad request' });
  }
});

serve(server, opts.port);
