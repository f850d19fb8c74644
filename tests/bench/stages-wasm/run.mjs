// `node run.mjs DIR`: times each step of the edge's request path alone (the wasm-bindgen
// `--target web` output of this crate in DIR, after wasm-opt), under this Node. Prints one
// JSON object: per step, microseconds per call (median, min, max over batches). The step
// that writes to the console is left to workerd.
//
// It also times a new isolate's set-up cold (`cold`, in ms): in `COLD_RUNS` fresh Node
// processes (`node run.mjs DIR --cold`, reading `Stages.set_up_input()` on stdin), the
// module compiled, instantiated, then `set_up`'s first call, before any other code ran in
// it (so code compiled on first use is in it, as on a new isolate).
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setup, steps } from './steps.mjs';

const COLD_RUNS = 7;
const [dir, mode] = process.argv.slice(2);
const name = 'cedargate_bench_stages';
const glue = await import(pathToFileURL(join(dir, `${name}.js`)));
const bytes = await readFile(join(dir, `${name}_bg.wasm`));

if (mode === '--cold') {
  const input = JSON.parse(readFileSync(0, 'utf8'));
  let start = performance.now();
  const module = new WebAssembly.Module(bytes);
  const compile = performance.now() - start;
  start = performance.now();
  glue.initSync({ module });
  const instantiate = performance.now() - start;
  start = performance.now();
  glue.set_up(input.compiled, input.version, input.config);
  const setUp = performance.now() - start;
  console.log(JSON.stringify({ compile, instantiate, set_up: setUp }));
  process.exit(0);
}

glue.initSync({ module: bytes });

// The median, smallest and largest of `values`.
function spread(values) {
  const out = [...values].sort((a, b) => a - b);
  return { median: out[Math.floor(out.length / 2)], min: out[0], max: out[out.length - 1] };
}

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
  return spread(out);
}

const ready = await setup(glue);
const result = { node: process.version, steps: {} };
for (const [step, f, batch, logs] of steps(ready)) {
  if (!logs) result.steps[step] = await time(f, batch);
}

const input = ready.stages.set_up_input();
const runs = [];
for (let i = 0; i < COLD_RUNS; i++) {
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), dir, '--cold'], {
    input,
    encoding: 'utf8',
  });
  if (child.status !== 0) throw new Error(`the cold set-up failed: ${child.stderr}`);
  runs.push(JSON.parse(child.stdout));
}
result.cold = {
  runs: runs.length,
  compile: spread(runs.map((r) => r.compile)),
  instantiate: spread(runs.map((r) => r.instantiate)),
  set_up: spread(runs.map((r) => r.set_up)),
};
console.log(JSON.stringify(result));
