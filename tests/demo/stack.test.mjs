// The demo stack's helpers that need no stack: run by the browser stage of `cargo xtask test`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { freePort } from './stack.mjs';

const node = process.execPath;
const stack = new URL('./stack.mjs', import.meta.url).href;

test('free ports are never handed out twice', async () => {
  // The system may give a port it just freed to the next request for one; a stack asks for
  // four in a row, and two of its servers on one port fail to start.
  const ports = [];
  for (let i = 0; i < 300; i++) ports.push(await freePort());
  assert.equal(new Set(ports).size, ports.length);
});

test('a port handed out by another process is not handed out again until it exits', async () => {
  const mine = [];
  for (let i = 0; i < 100; i++) mine.push(await freePort());
  // Another process of the tests (another file's stack) asks while these are held.
  const other = spawnSync(node, ['--input-type=module', '-e',
    `import { freePort } from '${stack}'; const p = []; for (let i = 0; i < 300; i++) p.push(await freePort()); console.log(JSON.stringify(p));`]);
  assert.equal(other.status, 0, String(other.stderr));
  const theirs = JSON.parse(String(other.stdout));
  assert.equal(theirs.length, 300);
  assert.deepEqual(theirs.filter((p) => mine.includes(p)), []);
  // The other process has exited: its ports are free to be handed out again.
  const again = spawnSync(node, ['--input-type=module', '-e',
    `import fs from 'node:fs'; import os from 'node:os'; import path from 'node:path';
     const left = ${JSON.stringify(theirs)}.filter((p) => fs.existsSync(path.join(os.tmpdir(), 'cedargate-test-ports', String(p))));
     console.log(left.length);`]);
  assert.equal(String(again.stdout).trim(), '0');
});
