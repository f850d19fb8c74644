// The request path's steps in workerd: `GET /?step=NAME&n=N` runs the step N times and
// answers with its checksum; `GET /steps` lists the steps and their batch sizes. workerd's clock does not advance during a request, so
// `cargo xtask bench` times the requests from outside (N large against N = 0).
import * as glue from './glue.js';
import wasm from './stages.wasm';
import { setup, steps } from './steps.mjs';

let ready;

export default {
  async fetch(request) {
    ready ??= (async () => {
      glue.initSync({ module: wasm });
      return steps(await setup(glue));
    })();
    const list = await ready;
    const url = new URL(request.url);
    if (url.pathname === '/steps') {
      return Response.json(list.map(([name, , batch]) => ({ name, batch })));
    }
    const table = new Map(list.map(([name, f]) => [name, f]));
    const step = table.get(url.searchParams.get('step'));
    if (!step) return new Response('unknown step', { status: 404 });
    const n = Number(url.searchParams.get('n') ?? '0');
    const sum = await step(n);
    return new Response(String(sum));
  },
};
