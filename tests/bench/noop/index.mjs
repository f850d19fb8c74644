// The baseline: a worker that answers every request at once.
export default {
  async fetch() {
    return new Response(null, { status: 204 });
  },
};
