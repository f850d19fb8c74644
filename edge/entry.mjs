// The worker's entry module. workerd calls `fetch` here, and it calls the Rust worker's
// `fetch` (workers-rs `#[event(fetch)]` in edge/src/runtime/mod.rs, through wasm-bindgen's
// glue) directly: no entrypoint class instantiated per request, no Proxy around it, no extra
// `async` wrapper. `cargo xtask build-edge` bundles this file with the glue into
// edge/build/index.js; the benchmark's Rust no-op worker is built with it too, so the cost
// of the glue that is left is a number in `cargo xtask bench`.
//
// A trap in the wasm (an abort, running out of memory) leaves the Rust state unusable. The
// request that trapped fails (workerd answers 500; nothing was forwarded), and the next
// request starts on a fresh instance (`__wbg_reset_state`), as on a new isolate: keys, the
// bundle and the caches are loaded again.
import * as core from './index.js';

let trapped = false;

function noteTrap(error) {
  if (error instanceof WebAssembly.RuntimeError) {
    console.error('cedargate: the wasm instance trapped; it is reset before the next request');
    trapped = true;
  }
}

// A trap while a promise's continuation runs (after an `await` in Rust) surfaces here.
addEventListener('error', (event) => noteTrap(event.error));

function rethrow(error) {
  noteTrap(error);
  throw error;
}

export default {
  fetch(request, env, ctx) {
    if (trapped) {
      trapped = false;
      core.__wbg_reset_state();
    }
    try {
      return core.fetch(request, env, ctx).catch(rethrow);
    } catch (error) {
      return rethrow(error);
    }
  },
};
