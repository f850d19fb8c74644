// `node run.mjs DIR`: times each step of the edge's request path alone (the wasm-bindgen
// `--target web` output of this crate in DIR, after wasm-opt), under this Node. Prints one
// JSON object: per step, microseconds per call (median, min, max over batches). The step
// that writes to the console is left to workerd.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setup, steps } from './steps.mjs';

const [dir] = process.argv.slice(2);
const name = 'cedargate_bench_stages';
const glue = await import(pathToFileURL(join(dir, `${name}.js`)));
glue.initSync({ module: await readFile(join(dir, `${name}_bg.wasm`)) });

// A warm-up, then `rounds` batches of `batch` calls; a sample is a batch's time divided by
// its size, in microseconds.
async function time(f, batch, rounds = 30) {
  await f(batch);
  const out = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    await f(batch);
    out.push(((performance.now() - start) * 1000) / batch);
  }
  out.sort((a, b) => a - b);
  return { median: out[Math.floor(out.length / 2)], min: out[0], max: out[out.length - 1] };
}

const result = { node: process.version, steps: {} };
for (const [step, f, batch, logs] of steps(await setup(glue))) {
  if (!logs) result.steps[step] = await time(f, batch);
}
console.log(JSON.stringify(result));
