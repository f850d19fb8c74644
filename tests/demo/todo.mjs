// The Todo origin of the demo's `--bundle todo`: the OpenID AuthZEN interop Todo API
// (GET /todos, POST /todos, PUT /todos/{todoId}, DELETE /todos/{todoId}, GET /users/{userId}),
// kept in memory, behind the worker with policies/authzen-todo, which decides each route from
// the person's roles in the bundle's entity data (the interop's API-gateway layer). The
// gateway cannot see who owns a todo, so an editor passes it for any todo; this demo origin
// does not add the interop backend's ownership check.
//
//   node todo.mjs --port 9301 [--edge-url http://127.0.0.1:8787 --edge-issuer ISS --audience AUD]
//
// The edge's signed assertion and the identity echo work as in petstore.mjs (origin.mjs).
import http from 'node:http';
import { parseArgs } from 'node:util';
import { assertionCheck, caller, readJson, send, serve } from './origin.mjs';

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string', default: '9301' },
    'edge-url': { type: 'string' },
    'edge-issuer': { type: 'string' },
    audience: { type: 'string' },
  },
});

const verifyAssertion = assertionCheck(opts);

const users = {
  'rick@the-citadel.com': { id: 'rick@the-citadel.com', name: 'Rick Sanchez', email: 'rick@the-citadel.com' },
  'morty@the-citadel.com': { id: 'morty@the-citadel.com', name: 'Morty Smith', email: 'morty@the-citadel.com' },
  'beth@the-smiths.com': { id: 'beth@the-smiths.com', name: 'Beth Smith', email: 'beth@the-smiths.com' },
};

let nextId = 3;
const todos = [
  { id: '1', title: 'Build the portal gun', completed: false, ownerID: 'rick@the-citadel.com' },
  { id: '2', title: 'Pass the math test', completed: false, ownerID: 'morty@the-citadel.com' },
];

/** The todo a path names, or a 404 sent. */
function todoOf(url, res) {
  const id = decodeURIComponent(url.pathname.split('/')[2]);
  const todo = todos.find((t) => t.id === id);
  if (!todo) send(res, 404, { message: `todo ${id} not found` });
  return todo;
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://origin');
  const known = await caller(req, res, verifyAssertion);
  if (!known) return;
  const { who } = known;
  try {
    if (req.method === 'GET' && url.pathname === '/todos') {
      send(res, 200, todos);
    } else if (req.method === 'POST' && url.pathname === '/todos') {
      const input = await readJson(req);
      const title = typeof input.title === 'string' ? input.title : `a todo of ${who}`;
      const todo = { id: String(nextId++), title, completed: false, ownerID: who };
      todos.push(todo);
      send(res, 200, todo);
    } else if (req.method === 'PUT' && /^\/todos\/[^/]+$/.test(url.pathname)) {
      const todo = todoOf(url, res);
      if (!todo) return;
      const input = await readJson(req);
      if (typeof input.completed === 'boolean') todo.completed = input.completed;
      send(res, 200, { ...todo, updated_by: who });
    } else if (req.method === 'DELETE' && /^\/todos\/[^/]+$/.test(url.pathname)) {
      const todo = todoOf(url, res);
      if (!todo) return;
      todos.splice(todos.indexOf(todo), 1);
      send(res, 200, { ...todo, deleted_by: who });
    } else if (req.method === 'GET' && /^\/users\/[^/]+$/.test(url.pathname)) {
      const id = decodeURIComponent(url.pathname.split('/')[2]);
      const user = users[id];
      if (user) send(res, 200, user);
      else send(res, 404, { message: `user ${id} not found` });
    } else {
      send(res, 404, { message: 'not found' });
    }
  } catch {
    send(res, 400, { message: 'bad request' });
  }
});

serve(server, opts.port);
