// Times the matrix module (the wasm-bindgen `--target web` output of this crate), the same
// way under Node and in Chromium. Times are in milliseconds, from performance.now().
export async function measure(glue, wasmBytes, rounds = 30, batch = 10) {
  const t0 = performance.now();
  glue.initSync({ module: wasmBytes });
  const instantiate = performance.now() - t0;

  const t1 = performance.now();
  const actions = glue.load_bundle();
  const firstLoad = performance.now() - t1;

  const matrix = new glue.Matrix();
  const t2 = performance.now();
  const rows = matrix.rows();
  const firstMatrix = performance.now() - t2;
  const allowed = matrix.allowed();

  // Warm-up, then `rounds` batches of `batch` calls; each sample is a batch's time / batch.
  const samples = (f) => {
    for (let i = 0; i < batch; i++) f();
    const out = [];
    for (let r = 0; r < rounds; r++) {
      const start = performance.now();
      for (let i = 0; i < batch; i++) f();
      out.push((performance.now() - start) / batch);
    }
    out.sort((a, b) => a - b);
    return { median: out[Math.floor(out.length / 2)], min: out[0], max: out[out.length - 1] };
  };
  const matrixTimes = samples(() => matrix.rows());
  const loadTimes = samples(() => glue.load_bundle());
  matrix.free();
  return {
    actions,
    rows,
    allowed,
    instantiate_ms: instantiate,
    first_load_ms: firstLoad,
    first_matrix_ms: firstMatrix,
    matrix_ms: matrixTimes,
    load_ms: loadTimes,
    samples: rounds,
    batch,
    timer_resolution_ms: resolution(),
  };
}

// The smallest step performance.now() shows (coarsened in browsers).
function resolution() {
  let smallest = Infinity;
  for (let i = 0; i < 50; i++) {
    const a = performance.now();
    let b = performance.now();
    while (b === a) b = performance.now();
    smallest = Math.min(smallest, b - a);
  }
  return smallest;
}
