#!/usr/bin/env node
// Reference Auth.js (v5) server: @auth/core 0.41.3's Auth() on node:http, configured like the
// portcullis example app. Env: AUTH_SECRET (required), PORT (0 = pick a free port).
// Prints "reference-v5 listening on http://127.0.0.1:PORT/api/auth" once ready.
//
// Besides /api/auth/*, it serves the example app's two app routes so the clients' --example
// steps can be checked against the reference too:
//   GET /api/protected  200 {"session": <session>} when signed in, else 401 {"error":"Unauthorized"}
//   GET /api/token      200 <decoded JWT> (server-side read, includes access_token), else 401

import http from "node:http";
import { Auth } from "@auth/core";
import Credentials from "@auth/core/providers/credentials";
import { getToken } from "@auth/core/jwt";
import * as example from "./lib/example-config.mjs";
import { json, sendWebResponse, toWebRequest } from "./lib/node-web.mjs";

const secret = example.requireSecret();

export const config = {
  basePath: example.BASE_PATH,
  trustHost: true,
  secret,
  providers: [
    Credentials({
      id: "credentials",
      credentials: example.CREDENTIAL_FIELDS,
      authorize: example.authorize,
    }),
  ],
  callbacks: { jwt: example.jwt, session: example.session },
  logger: {
    // Keep Auth.js' logs, but on stderr with a prefix (the run script keeps them in a file).
    error: (e) => console.error("[auth][error]", e?.type ?? e?.name, e?.message),
    warn: (code) => console.error("[auth][warn]", code),
  },
};

async function handle(req, res) {
  const request = await toWebRequest(req);
  const { pathname } = new URL(request.url);
  if (pathname === example.BASE_PATH || pathname.startsWith(`${example.BASE_PATH}/`)) {
    return sendWebResponse(res, await Auth(request, config));
  }
  if (pathname === "/api/protected" && req.method === "GET") {
    // What `auth()` does for a route: ask Auth.js for the session with the request's cookies.
    const sessionUrl = new URL(`${example.BASE_PATH}/session`, request.url);
    const sessionRes = await Auth(new Request(sessionUrl, { headers: request.headers }), config);
    const session = await sessionRes.json();
    return session ? json(res, 200, { session }) : json(res, 401, { error: "Unauthorized" });
  }
  if (pathname === "/api/token" && req.method === "GET") {
    const token = await getToken({ req: request, secret, secureCookie: false });
    return token ? json(res, 200, token) : json(res, 401, { error: "Unauthorized" });
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
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => example.announce(server, "reference-v5"));
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => server.close(() => process.exit(0)));
