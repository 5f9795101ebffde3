// node:http <-> Fetch API (Request/Response), as a framework adapter (Next.js, SvelteKit…)
// does for Auth.js: used by the reference servers here and by bench/authjs.

/** node IncomingMessage -> web Request: every header value kept, a body only for non-GET/HEAD. */
export async function toWebRequest(req) {
  const url = new URL(req.url, `http://${req.headers.host ?? "127.0.0.1"}`);
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  let body;
  if (req.method !== "GET" && req.method !== "HEAD") {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    body = Buffer.concat(chunks);
  }
  return new Request(url, { method: req.method, headers, body });
}

/** web Response -> node ServerResponse; each Set-Cookie stays its own header line. */
export async function sendWebResponse(res, response) {
  res.statusCode = response.status;
  for (const [name, value] of response.headers) {
    if (name.toLowerCase() === "set-cookie") continue;
    res.setHeader(name, value);
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length) res.setHeader("set-cookie", cookies);
  res.end(Buffer.from(await response.arrayBuffer()));
}

/** A JSON answer. */
export function json(res, status, value) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(value));
}
