// The worker's entry module (edge/entry.mjs) against a stand-in for wasm-bindgen's glue: it
// passes each request to the Rust `fetch` as it came, and after a trap in the wasm (thrown at
// once, rejected later, or reported through the `error` event) the next request, and only
// the next one, starts on a reset instance. Errors that are not traps reset nothing.
//
//   node --test tests/entry/entry.test.mjs      (cargo xtask test runs it)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

// What the glue would export: `fetch` runs the next queued behaviour, `__wbg_reset_state`
// counts the resets.
const GLUE = `
export const calls = [];
export const behaviours = [];
export let resets = 0;
export function __wbg_reset_state() { resets += 1; }
export function fetch(request, env, ctx) {
  calls.push([request, env, ctx]);
  const next = behaviours.shift() ?? 'ok';
  if (next === 'trap-now') throw new WebAssembly.RuntimeError('unreachable');
  if (next === 'trap-later') return Promise.reject(new WebAssembly.RuntimeError('unreachable'));
  if (next === 'type-error') return Promise.reject(new TypeError('not a trap'));
  return Promise.resolve('response');
}
`;

async function load() {
  const dir = mkdtempSync(join(tmpdir(), 'cedargate-entry-'));
  copyFileSync(join(root, 'edge/entry.mjs'), join(dir, 'entry.mjs'));
  writeFileSync(join(dir, 'index.js'), GLUE);
  const listeners = [];
  globalThis.addEventListener = (type, listener) => listeners.push([type, listener]);
  const originalError = console.error;
  console.error = () => {};
  try {
    const entry = (await import(pathToFileURL(join(dir, 'entry.mjs')).href)).default;
    const glue = await import(pathToFileURL(join(dir, 'index.js')).href);
    return { entry, glue, listeners, done: () => { console.error = originalError; rmSync(dir, { recursive: true }); } };
  } finally {
    delete globalThis.addEventListener;
  }
}

test('a request reaches the Rust fetch as it came, and its answer comes back', async () => {
  const { entry, glue, done } = await load();
  const request = {}, env = {}, ctx = {};
  assert.equal(await entry.fetch(request, env, ctx), 'response');
  assert.equal(glue.calls.length, 1);
  assert.equal(glue.calls[0][0], request);
  assert.equal(glue.calls[0][1], env);
  assert.equal(glue.calls[0][2], ctx);
  assert.equal(glue.resets, 0);
  done();
});

test('a trap thrown at once fails that request and resets the instance before the next one only', async () => {
  const { entry, glue, done } = await load();
  glue.behaviours.push('trap-now');
  assert.throws(() => entry.fetch({}, {}, {}), WebAssembly.RuntimeError);
  assert.equal(glue.resets, 0);
  assert.equal(await entry.fetch({}, {}, {}), 'response');
  assert.equal(glue.resets, 1);
  assert.equal(await entry.fetch({}, {}, {}), 'response');
  assert.equal(glue.resets, 1);
  done();
});

test('a trap after an await rejects that request and resets the instance before the next', async () => {
  const { entry, glue, done } = await load();
  glue.behaviours.push('trap-later');
  await assert.rejects(entry.fetch({}, {}, {}), WebAssembly.RuntimeError);
  assert.equal(await entry.fetch({}, {}, {}), 'response');
  assert.equal(glue.resets, 1);
  done();
});

test('a trap reported through the error event resets the instance before the next request', async () => {
  const { entry, glue, listeners, done } = await load();
  const onError = listeners.find(([type]) => type === 'error');
  assert.ok(onError, 'the entry listens for errors');
  onError[1]({ error: new WebAssembly.RuntimeError('unreachable') });
  assert.equal(await entry.fetch({}, {}, {}), 'response');
  assert.equal(glue.resets, 1);
  onError[1]({ error: new Error('not a trap') });
  assert.equal(await entry.fetch({}, {}, {}), 'response');
  assert.equal(glue.resets, 1);
  done();
});

test('an error that is not a trap is passed on and resets nothing', async () => {
  const { entry, glue, done } = await load();
  glue.behaviours.push('type-error');
  await assert.rejects(entry.fetch({}, {}, {}), TypeError);
  assert.equal(await entry.fetch({}, {}, {}), 'response');
  assert.equal(glue.resets, 0);
  done();
});
