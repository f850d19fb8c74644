// `node profile.mjs WS_URL SECONDS OUT.cpuprofile`: records a V8 CPU profile of one workerd
// isolate through its inspector (workerd `--inspector-addr`) for SECONDS, writes it to OUT
// (loadable in Chrome's DevTools) and prints one JSON object: the total sampled time and
// the self time per function (name and script), heaviest first, with V8's own entries
// ("(garbage collector)", "(program)", "(idle)") kept as they are.
import { writeFile } from 'node:fs/promises';

const [url, seconds, out] = process.argv.slice(2);
const ws = new WebSocket(url);
let next = 1;
const pending = new Map();
ws.onmessage = (event) => {
  const message = JSON.parse(event.data);
  const waiter = pending.get(message.id);
  if (waiter) {
    pending.delete(message.id);
    if (message.error) waiter.reject(new Error(JSON.stringify(message.error)));
    else waiter.resolve(message.result);
  }
};
const call = (method, params = {}) => new Promise((resolve, reject) => {
  const id = next++;
  pending.set(id, { resolve, reject });
  ws.send(JSON.stringify({ id, method, params }));
});
await new Promise((resolve, reject) => {
  ws.onopen = resolve;
  ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
});
await call('Profiler.enable');
await call('Profiler.setSamplingInterval', { interval: 50 });
await call('Profiler.start');
console.error('[profile] recording');
await new Promise((resolve) => setTimeout(resolve, Number(seconds) * 1000));
const { profile } = await call('Profiler.stop');
ws.close();
await writeFile(out, JSON.stringify(profile));

// Self time per node from the samples and their time deltas (µs).
const self = new Map();
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const byFunction = new Map();
let total = 0;
for (const node of profile.nodes) {
  const time = self.get(node.id) ?? 0;
  if (!time) continue;
  total += time;
  const { functionName, url: script } = node.callFrame;
  const key = `${functionName || '(anonymous)'}\u0000${script}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + time);
}
const functions = [...byFunction]
  .map(([key, us]) => {
    const [name, script] = key.split('\u0000');
    return { name, script, us };
  })
  .sort((a, b) => b.us - a.us);
console.log(JSON.stringify({ total_us: total, samples: profile.samples.length, functions }));
