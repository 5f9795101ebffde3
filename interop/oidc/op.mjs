#!/usr/bin/env node
// A real OpenID Provider on loopback, for end-to-end tests of portcullis' `oidc` provider:
// panva's oidc-provider (the certified Node implementation), configured with one confidential
// client, its built-in "dev interactions" login and consent pages, and an in-memory store.
//
//   node op.mjs --port N --client-id ID --client-secret SECRET --redirect-uri URI [--redirect-uri URI2 …]
//               [--post-logout-redirect-uri URI …] [--access-ttl SECONDS] [--events FILE]
//               [--conform-id-token-claims]
//
// Issuer: http://127.0.0.1:N (no trailing slash). Any login name signs in as that account:
//   sub = <login>, email = <login>@example.test (verified), name = <Login>,
//   picture = https://example.test/<login>.png
// --events FILE  append one JSON line per provider event of interest (grant.success, grant.error,
//                refresh_token.consumed, end_session.success, …), written synchronously before
//                the response leaves, so a client that got its answer can read the file at once.
// --conform-id-token-claims  put profile/email claims in userinfo only (oidc-provider's default),
//                instead of also in the ID token (what Google and most providers do; the default here).
// Prints `ready <issuer>` on stdout once listening; request log and errors go to stderr.
// SIGTERM / SIGINT close the server and exit 0.

import { appendFileSync } from "node:fs";
import { createServer } from "node:http";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { parseArgs } from "node:util";

function usage(msg) {
  if (msg) console.error(`op.mjs: ${msg}`);
  console.error(
    "usage: node op.mjs --port N --client-id ID --client-secret SECRET --redirect-uri URI [--redirect-uri URI2 …]\n" +
      "                   [--post-logout-redirect-uri URI …] [--access-ttl SECONDS] [--events FILE] [--conform-id-token-claims]",
  );
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      port: { type: "string" },
      "client-id": { type: "string" },
      "client-secret": { type: "string" },
      "redirect-uri": { type: "string", multiple: true },
      "post-logout-redirect-uri": { type: "string", multiple: true },
      "access-ttl": { type: "string", default: "3600" },
      events: { type: "string" },
      "conform-id-token-claims": { type: "boolean", default: false },
    },
    strict: true,
  }));
} catch (err) {
  usage(err.message);
}

const port = Number.parseInt(values.port ?? "", 10);
const accessTtl = Number.parseInt(values["access-ttl"], 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) usage("--port must be a TCP port");
if (!values["client-id"] || !values["client-secret"]) usage("--client-id and --client-secret are required");
if (!values["redirect-uri"]?.length) usage("at least one --redirect-uri is required");
if (!Number.isInteger(accessTtl) || accessTtl <= 0) usage("--access-ttl must be a positive number of seconds");

// Loaded after the arguments are checked: importing it prints its runtime warnings.
const { default: Provider } = await import("oidc-provider");

const issuer = `http://127.0.0.1:${port}`;
const eventsFile = values.events;

// A fresh RSA signing key per start: the JWKS the OP publishes is real, and nothing secret is
// committed. The private JWK goes to oidc-provider, which publishes only the public half.
const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const signingJwk = {
  ...privateKey.export({ format: "jwk" }),
  kid: `op-${randomBytes(6).toString("hex")}`,
  alg: "RS256",
  use: "sig",
};

const capitalise = (s) => (s ? s[0].toUpperCase() + s.slice(1) : s);

/** The account behind a login name: every name exists, with claims derived from it. */
function accountFor(login) {
  return {
    accountId: login,
    // `use` is "id_token" or "userinfo"; oidc-provider filters the result down to the claims
    // the granted scopes allow (see `claims` below), so returning all of them is fine.
    async claims(_use, _scope, _claims, _rejected) {
      return {
        sub: login,
        email: `${login}@example.test`,
        email_verified: true,
        name: capitalise(login),
        picture: `https://example.test/${encodeURIComponent(login)}.png`,
      };
    },
  };
}

const configuration = {
  clients: [
    {
      client_id: values["client-id"],
      client_secret: values["client-secret"],
      redirect_uris: values["redirect-uri"],
      // RP-initiated logout only redirects to registered URIs (exact match).
      post_logout_redirect_uris: values["post-logout-redirect-uri"] ?? [],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
      id_token_signed_response_alg: "RS256",
    },
  ],

  jwks: { keys: [signingJwk] },

  // Signs oidc-provider's own cookies (_session, _interaction, _interaction_resume). Without keys
  // it works but warns; a per-start random key is enough for a throwaway OP.
  cookies: { keys: [randomBytes(32).toString("base64url")] },

  // Authorization code flow only: no implicit/hybrid response types in discovery.
  responseTypes: ["code"],

  scopes: ["openid", "profile", "email", "offline_access"],
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name", "picture"],
  },
  // oidc-provider's default (true) keeps scope-granted claims out of the ID token when an access
  // token is issued too: they are then only at userinfo. Auth.js' `oidc` providers read the
  // profile from the ID token, and real providers (Google, Microsoft, Keycloak, Auth0) put
  // email/name there, so by default the ID token carries them as well. --conform-id-token-claims
  // restores the strict behaviour, to test a client that falls back to userinfo.
  conformIdTokenClaims: values["conform-id-token-claims"],

  findAccount: async (_ctx, sub) => accountFor(sub),

  // Always issue a refresh token to this client, whether or not `offline_access` was asked for
  // (by default oidc-provider only issues one for offline_access, and drops offline_access from
  // the request unless prompt=consent is sent too). The client must still be allowed the
  // refresh_token grant, which it is.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
  // Rotate on every use: each refresh answers with a new refresh token and marks the old one
  // consumed. Presenting a consumed one fails with invalid_grant ("refresh token already used")
  // and revokes the whole grant (oidc-provider's reuse detection), so a client that refreshes
  // twice concurrently with the same token loses the session: exactly what the tests look for.
  rotateRefreshToken: true,

  // PKCE for every authorization request (S256 is the only method oidc-provider 9 supports).
  pkce: { required: () => true },

  ttl: {
    AccessToken: () => accessTtl,
    // The rest are oidc-provider's defaults, spelled out so it does not warn about them.
    AuthorizationCode: 60,
    IdToken: 3600,
    RefreshToken: 14 * 24 * 3600,
    Interaction: 3600,
    Session: 14 * 24 * 3600,
    Grant: 14 * 24 * 3600,
  },

  features: {
    // The built-in login/consent pages: any login name, any password. oidc-provider enables them
    // regardless of NODE_ENV and only warns; we want them, so say so.
    devInteractions: { enabled: true },
    // RP-initiated logout: end_session_endpoint in discovery, a confirmation form, then a 303 to
    // the registered post_logout_redirect_uri.
    rpInitiatedLogout: { enabled: true },
    userinfo: { enabled: true },
    // Not used by the tests; off so their metadata and code paths stay out of the way.
    // (resourceIndicators stays on, its default: without a `resource` parameter it changes nothing.)
    dPoP: { enabled: false },
    pushedAuthorizationRequests: { enabled: false },
    revocation: { enabled: false },
    introspection: { enabled: false },
  },

  // Plain JSON error bodies for the API endpoints are oidc-provider's default; HTML error pages
  // for browser endpoints keep their default look (the flow client reads <pre> lines from them).
};

// RFC 9207 `iss` in authorization responses is always on in oidc-provider 9
// (authorization_response_iss_parameter_supported: true in discovery); the flow checks it.

const provider = new Provider(issuer, configuration);
// Plain http on loopback, no reverse proxy: ctx.secure is false, so oidc-provider sets its cookies
// without `Secure` (it only adds Secure on https), which is what a browser on http needs.
provider.proxy = false;

// ---- request log (stderr) -------------------------------------------------------------------
provider.use(async (ctx, next) => {
  const t0 = Date.now();
  try {
    await next();
  } finally {
    const loc = ctx.response.get("location");
    console.error(`op: ${ctx.method} ${ctx.path} -> ${ctx.status}${loc ? ` ${loc.split("?")[0]}` : ""} (${Date.now() - t0} ms)`);
  }
});

// ---- client authentication: client_secret_basic only -------------------------------------------
// oidc-provider treats client_secret_basic and client_secret_post as interchangeable for a client
// registered with either. Auth.js (and so portcullis) defaults to client_secret_basic, the method
// this client is registered with; insist on it, so a client that sends its secret in the body is
// caught here rather than by the first strict provider in production.
provider.use(async (ctx, next) => {
  if (ctx.method === "POST" && ctx.path === "/token" && !/^basic\s/i.test(ctx.get("authorization"))) {
    ctx.status = 401;
    ctx.set("www-authenticate", 'Basic realm="op"');
    ctx.body = {
      error: "invalid_client",
      error_description: "this client is registered for client_secret_basic: send the credentials in an HTTP Basic Authorization header",
    };
    record("grant.error", { error: "invalid_client", error_description: "no HTTP Basic client authentication" });
    return;
  }
  await next();
});

// ---- events -----------------------------------------------------------------------------------
function record(event, fields = {}) {
  const line = JSON.stringify({ event, ts: Date.now(), ...fields });
  if (eventsFile) appendFileSync(eventsFile, `${line}\n`);
  console.error(`op event: ${line}`);
}
// error_detail is oidc-provider's private reason (e.g. "refresh token already used"), which the
// client only sees as a generic error_description.
const errFields = (err) => ({
  error: err?.error ?? err?.name ?? String(err),
  error_description: err?.error_description,
  error_detail: err?.error_detail,
});

provider.on("grant.success", (ctx) => record("grant.success", { grant_type: ctx.oidc.params?.grant_type, client_id: ctx.oidc.client?.clientId }));
provider.on("grant.error", (ctx, err) => record("grant.error", { grant_type: ctx.oidc?.params?.grant_type, ...errFields(err) }));
provider.on("grant.revoked", (_ctx, grantId) => record("grant.revoked", { grant_id: grantId }));
provider.on("refresh_token.consumed", (token) => record("refresh_token.consumed", { grant_id: token.grantId, rotations: token.rotations ?? 0 }));
provider.on("authorization.success", (ctx) => record("authorization.success", { client_id: ctx.oidc.client?.clientId }));
provider.on("authorization.error", (_ctx, err) => record("authorization.error", errFields(err)));
provider.on("end_session.success", (ctx) => record("end_session.success", { client_id: ctx.oidc.client?.clientId }));
provider.on("end_session.error", (_ctx, err) => record("end_session.error", errFields(err)));
provider.on("userinfo.error", (_ctx, err) => record("userinfo.error", errFields(err)));
provider.on("server_error", (_ctx, err) => {
  record("server_error", errFields(err));
  console.error(err);
});

// ---- serve --------------------------------------------------------------------------------------
const server = createServer(provider.callback());
server.on("error", (err) => {
  console.error(`op.mjs: ${err.message}`);
  process.exit(1);
});
server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`ready ${issuer}\n`);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
