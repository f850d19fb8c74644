// The synchronous Rust no-op worker's entry, written by hand instead of worker-build's shim:
// no async wrapper, no Request or Response object handed to wasm. It passes the request's
// method, URL and Authorization header to the core's one synchronous export and builds the
// Response here from the status the core returns.
import { initSync, handle } from './core.js';
import wasm from './core_bg.wasm';

initSync({ module: wasm });

export default {
  fetch(request) {
    const status = handle(request.method, request.url, request.headers.get('authorization') ?? '');
    return new Response(null, { status });
  },
};
