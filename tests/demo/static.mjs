// Serves the built browser app (web/dist) on 127.0.0.1, with client-side routes (/callback)
// falling back to index.html and an optional config.json replacing the built one.
//
//   node static.mjs --port 8080 --dist ../../web/dist [--config config.json]
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string', default: '8080' },
    dist: { type: 'string' },
    config: { type: 'string' },
  },
});
const dist = path.resolve(opts.dist);
const types = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.wasm': 'application/wasm',
  '.css': 'text/css', '.json': 'application/json', '.svg': 'image/svg+xml',
};

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://app');
  let file = path.join(dist, path.normalize(decodeURIComponent(url.pathname)));
  if (url.pathname === '/config.json' && opts.config) file = path.resolve(opts.config);
  if (!file.startsWith(dist) && file !== path.resolve(opts.config ?? '')) {
    res.writeHead(400).end();
    return;
  }
  if (!fs.existsSync(file) || fs.statSync(file).isDirectory()) file = path.join(dist, 'index.html');
  res.writeHead(200, {
    'content-type': types[path.extname(file)] ?? 'application/octet-stream',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  });
  fs.createReadStream(file).pipe(res);
});

server.listen(Number(opts.port), '127.0.0.1', () => {
  console.log(JSON.stringify({ ready: true, url: `http://127.0.0.1:${opts.port}` }));
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
