// `node run.mjs DIR [CHROMIUM]`: times the matrix of DIR (wasm-bindgen `--target web`
// output, after wasm-opt) under this Node, then, when CHROMIUM (a browser's path) is given,
// in headless Chromium through playwright-core, from a page served on 127.0.0.1 with
// cross-origin isolation (so performance.now() is fine-grained). Prints one JSON object.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { measure } from './measure.mjs';

const [dir, chromium] = process.argv.slice(2);
const name = 'cedargate_bench_matrix';
const wasm = await readFile(join(dir, `${name}_bg.wasm`));
const result = { node: { version: process.version, ...(await measure(await import(pathToFileURL(join(dir, `${name}.js`))), wasm)) } };

if (chromium) {
  const here = new URL('.', import.meta.url);
  const files = {
    '/': ['text/html', Buffer.from('<!doctype html><title>matrix</title>')],
    '/measure.mjs': ['text/javascript', await readFile(new URL('measure.mjs', here))],
    '/glue.js': ['text/javascript', await readFile(join(dir, `${name}.js`))],
    '/matrix.wasm': ['application/wasm', wasm],
  };
  const server = createServer((req, res) => {
    const file = files[req.url];
    if (!file) return res.writeHead(404).end();
    res.writeHead(200, {
      'content-type': file[0],
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
    });
    res.end(file[1]);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { chromium: launcher } = await import('playwright-core');
  const browser = await launcher.launch({
    executablePath: chromium,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    result.chromium = await page.evaluate(async () => {
      const { measure } = await import('/measure.mjs');
      const glue = await import('/glue.js');
      const bytes = new Uint8Array(await (await fetch('/matrix.wasm')).arrayBuffer());
      return { version: navigator.userAgent, isolated: self.crossOriginIsolated, ...(await measure(glue, bytes)) };
    });
  } finally {
    await browser.close();
    server.close();
  }
}
console.log(JSON.stringify(result));
