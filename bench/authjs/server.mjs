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
import { json, sendWebResponse, toWebRequest } from "../../interop/lib/node-web.mjs";

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

async function handle(req, res) {
  const request = await toWebRequest(req);
  const { pathname } = new URL(request.url);
  if (pathname.startsWith(`${example.BASE_PATH}/`)) return sendWebResponse(res, await Auth(request, config));
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
