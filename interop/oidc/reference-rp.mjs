#!/usr/bin/env node
// Reference relying party: Auth.js itself (@auth/core 0.41.3 from ../node_modules, installed by
// `npm ci` in interop/) with one `oidc` provider pointed at op.mjs, JWT sessions, on node:http.
// It proves flow.mjs's expectations against the implementation portcullis is compatible with:
// `run.sh --reference` runs the sign-in/replay and logout flows against it.
//
//   node reference-rp.mjs --port P --issuer http://127.0.0.1:N --client-id ID --client-secret S
//                         [--refresh naive|coalesced] [--rp-logout URI]
//
// --refresh naive      refresh the access token in the jwt callback the way Auth.js' "refresh
//                      token rotation" guide does: every request that sees an expired token
//                      refreshes, uncoordinated. flow.mjs --refresh must FAIL against it:
//                      concurrent requests reuse the rotated refresh token, which the OP answers
//                      with invalid_grant (and revokes the grant). That failure is what shows the
//                      refresh check has teeth.
// --refresh coalesced  the same, but concurrent refreshes of one refresh token share a single
//                      token request (an in-process map from the old refresh token to the pending
//                      or recent result), which is what portcullis has to do. flow.mjs --refresh
//                      must PASS against it.
// --rp-logout URI      Auth.js has no RP-initiated logout; emulate it around Auth(): a successful
//                      POST /signout is redirected to the OP's end_session_endpoint with the
//                      session's id_token_hint, post_logout_redirect_uri=URI and a state, so
//                      flow.mjs --logout --require-rp-logout has something real to follow.
// Prints `ready http://127.0.0.1:P/api/auth` once listening.

import http from "node:http";
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { sendWebResponse, toWebRequest } from "../lib/node-web.mjs";

let Auth;
let getToken;
try {
  ({ Auth } = await import("@auth/core"));
  ({ getToken } = await import("@auth/core/jwt"));
} catch {
  console.error("reference-rp.mjs: @auth/core not found: run `npm ci` in interop/ first");
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    issuer: { type: "string" },
    "client-id": { type: "string" },
    "client-secret": { type: "string" },
    refresh: { type: "string" },
    "rp-logout": { type: "string" },
  },
  strict: true,
});
const port = Number.parseInt(values.port ?? "", 10);
if (!port || !values.issuer || !values["client-id"] || !values["client-secret"] || ![undefined, "naive", "coalesced"].includes(values.refresh)) {
  console.error("usage: node reference-rp.mjs --port P --issuer URL --client-id ID --client-secret S [--refresh naive|coalesced]");
  process.exit(2);
}
const BASE_PATH = "/api/auth";

/** One refresh_token grant at the OP: {access_token, expires_at, refresh_token}. */
async function refreshAtOp(refreshToken) {
  const meta = await (await fetch(`${values.issuer}/.well-known/openid-configuration`)).json();
  const res = await fetch(meta.token_endpoint, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`${values["client-id"]}:${values["client-secret"]}`).toString("base64")}`,
    },
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken }),
  });
  const t = await res.json();
  if (!res.ok) throw new Error(t.error);
  return { access_token: t.access_token, expires_at: Math.floor(Date.now() / 1000) + t.expires_in, refresh_token: t.refresh_token ?? refreshToken };
}

// old refresh token -> promise of its refresh result, kept a minute so that requests still
// carrying the old cookie get the same new tokens instead of reusing the rotated one.
const inflight = new Map();
function refreshCoalesced(refreshToken) {
  let p = inflight.get(refreshToken);
  if (!p) {
    p = refreshAtOp(refreshToken);
    inflight.set(refreshToken, p);
    setTimeout(() => inflight.delete(refreshToken), 60_000).unref();
  }
  return p;
}

const config = {
  basePath: BASE_PATH,
  trustHost: true,
  secret: randomBytes(32).toString("base64url"),
  session: { strategy: "jwt" },
  providers: [
    {
      id: "oidc",
      name: "Test OP",
      type: "oidc",
      issuer: values.issuer,
      clientId: values["client-id"],
      clientSecret: values["client-secret"],
      // Auth.js' default is ["pkce"]; portcullis sends state and nonce too, and so does this.
      checks: ["pkce", "state", "nonce"],
      authorization: { params: { scope: "openid profile email offline_access" } },
    },
  ],
  callbacks: {
    async jwt({ token, account }) {
      if (account) {
        return { ...token, id_token: account.id_token, access_token: account.access_token, expires_at: account.expires_at, refresh_token: account.refresh_token };
      }
      if (!values.refresh || Date.now() < token.expires_at * 1000) return token;
      try {
        const fresh = values.refresh === "coalesced" ? await refreshCoalesced(token.refresh_token) : await refreshAtOp(token.refresh_token);
        return { ...token, ...fresh };
      } catch (err) {
        console.error("[reference-rp] refresh failed:", err.message);
        return { ...token, error: "RefreshTokenError" };
      }
    },
    async session({ session, token }) {
      if (token.error) session.error = token.error;
      return session;
    },
  },
  logger: {
    error: (e) => console.error("[auth][error]", e?.type ?? e?.name, e?.message),
    warn: (code) => console.error("[auth][warn]", code),
  },
};

async function handle(req, res) {
  const request = await toWebRequest(req);
  if (!new URL(request.url).pathname.startsWith(`${BASE_PATH}/`)) {
    res.writeHead(404, { "content-type": "text/plain" });
    return res.end("not found");
  }
  const { pathname } = new URL(request.url);
  const rpLogout = values["rp-logout"] && request.method === "POST" && pathname === `${BASE_PATH}/signout`;
  const token = rpLogout ? await getToken({ req: request, secret: config.secret, secureCookie: false }) : null;
  const response = await Auth(request, config);
  if (rpLogout && token?.id_token && response.status === 302) {
    const meta = await (await fetch(`${values.issuer}/.well-known/openid-configuration`)).json();
    const u = new URL(meta.end_session_endpoint);
    u.searchParams.set("id_token_hint", token.id_token);
    u.searchParams.set("post_logout_redirect_uri", values["rp-logout"]);
    u.searchParams.set("state", randomBytes(12).toString("base64url"));
    response.headers.set("location", u.href);
  }
  await sendWebResponse(res, response);
}

const server = http.createServer((req, res) => {
  console.error(`[reference-rp] ${req.method} ${req.url.split("?")[0]}`);
  handle(req, res).catch((e) => {
    console.error("[reference-rp] unhandled", e);
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
});
server.listen(port, "127.0.0.1", () => process.stdout.write(`ready http://127.0.0.1:${port}${BASE_PATH}\n`));
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => server.close(() => process.exit(0)));
