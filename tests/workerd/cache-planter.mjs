// Test fixture: a worker that writes what it is told into the Cache API (`caches.default`),
// standing for any other code on the same zone that can write there.
//
// PUT /plant {"key": url, "body": text, "headers": {...}} stores the entry; GET /look?key=url
// answers it (404 if absent).

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (request.method === "PUT" && url.pathname === "/plant") {
      const { key, body, headers } = await request.json();
      await caches.default.put(key, new Response(body, { headers }));
      return new Response(null, { status: 204 });
    }
    if (url.pathname === "/look") {
      const hit = await caches.default.match(url.searchParams.get("key"));
      return hit ? new Response(await hit.text()) : new Response("", { status: 404 });
    }
    return new Response("planter\n");
  },
};
