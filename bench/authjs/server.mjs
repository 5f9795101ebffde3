#!/usr/bin/env node
// The Auth.js side of bench/run.sh: @auth/core 0.41.3's Auth() on node:http, configured like
// the portcullis example (credentials alice/wonderland; the jwt callback keeps id, role and
// access_token, the session callback shows id and role) through the same module the interop
// reference servers use. Serves /api/auth/* and GET /api/protected (what `auth()` does for a
// route: ask Auth.js for the session).
//
// Env: AUTH_SECRET (required), PORT. Prints "authjs listening on http://127.0.0.1:PORT" once
// it accepts connections. Logs nothing per request.

import http from "node:http";
import { Auth } from "@auth/core";
import Credentials from "@auth/core/providers/credentials";
import * as example from "../../interop/lib/example-config.mjs";

const config = {
  basePath: example.BASE_PATH,
  trustHost: true,
  secret: example.requireSecret(),
  providers: [
    Credentials({
      id: "credentials",
      credentials: example.CREDENTIAL_FIELDS,
      authorize: example.authorize,
    }),
  ],
  callbacks: { jwt: example.jwt, session: example.session },
  logger: {
    error: (e) => console.error("[auth][error]", e?.type ?? e?.name, e?.message),
    warn: (code) => console.error("[auth][warn]", code),
  },
};

/** node IncomingMessage -> web Request, as a framework adapter (Next.js, SvelteKit…) does. */
async function toWebRequest(req) {
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

/** web Response -> node ServerResponse, each Set-Cookie its own header line. */
async function send(res, response) {
  res.statusCode = response.status;
  for (const [name, value] of response.headers) {
    if (name !== "set-cookie") res.setHeader(name, value);
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length) res.setHeader("set-cookie", cookies);
  res.end(Buffer.from(await response.arrayBuffer()));
}

function json(res, status, value) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(value));
}

async function handle(req, res) {
  const request = await toWebRequest(req);
  const { pathname } = new URL(request.url);
  if (pathname.startsWith(`${example.BASE_PATH}/`)) return send(res, await Auth(request, config));
  if (pathname === "/api/protected" && req.method === "GET") {
    const url = new URL(`${example.BASE_PATH}/session`, request.url);
    const session = await (await Auth(new Request(url, { headers: request.headers }), config)).json();
    return session ? json(res, 200, { session }) : json(res, 401, { error: "Unauthorized" });
  }
  json(res, 404, { error: "Not found" });
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((e) => {
    console.error("[server] unhandled", e);
    if (!res.headersSent) json(res, 500, { error: "internal" });
    else res.end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  console.log(`authjs listening on http://127.0.0.1:${server.address().port}`);
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => server.close(() => process.exit(0)));
