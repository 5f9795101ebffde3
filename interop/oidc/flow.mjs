#!/usr/bin/env node
// Signs in to portcullis through a real OpenID Provider (op.mjs), the way a browser would:
// plain fetch with redirect: "manual", a small cookie jar, and form submissions on the OP's
// dev-interaction pages. Then checks the session, a replay of the callback, token refresh under
// concurrency, and RP-initiated logout.
//
//   node flow.mjs --base http://127.0.0.1:P/api/auth --issuer http://127.0.0.1:N --login alice
//                 [--provider oidc] [--client-id ID] [--events FILE]
//                 [--refresh --access-ttl SECONDS] [--concurrency 10]
//                 [--logout [--require-rp-logout] [--post-logout-redirect-uri URI]] [--no-replay] [--tamper]
//   node flow.mjs --selftest --issuer http://127.0.0.1:N --client-id ID --client-secret SECRET
//                 --redirect-uri URI [--post-logout-redirect-uri URI] [--access-ttl SECONDS]
//                 [--events FILE] [--login bob] [--conform-id-token-claims]
//
// --selftest exercises the OP alone (discovery, JWKS, PKCE, code exchange, ID token signature,
// userinfo, refresh rotation and reuse detection, code reuse, RP-initiated logout), proving the
// OP configuration before portcullis is judged against it. The redirect URI it uses must be
// registered at the OP; nothing listens there (the client reads the code from the Location).
//
// Output: one line per check, `# pass <name>` or `# fail <name>: <why>`, `# note …` lines for
// what was observed, and a last line `ok N checks` (exit 0) or `not ok: F of N checks failed`
// (exit 1). A failed check that later steps depend on stops the run. Exit 2: usage error.

import { createHash, createPublicKey, randomBytes, verify as verifySignature } from "node:crypto";
import { readFileSync, existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";

// ---- arguments ------------------------------------------------------------------------------------

const USAGE = `usage: node flow.mjs --base http://127.0.0.1:P/api/auth --issuer http://127.0.0.1:N --login NAME
                    [--provider oidc] [--client-id ID] [--events FILE]
                    [--refresh --access-ttl SECONDS] [--concurrency 10]
                    [--logout [--require-rp-logout] [--post-logout-redirect-uri URI]] [--no-replay] [--tamper]
       node flow.mjs --selftest --issuer URL --client-id ID --client-secret SECRET --redirect-uri URI
                    [--post-logout-redirect-uri URI] [--access-ttl SECONDS] [--events FILE] [--login NAME]
                    [--conform-id-token-claims]`;

function usage(msg) {
  if (msg) console.error(`flow.mjs: ${msg}`);
  console.error(USAGE);
  process.exit(2);
}

let opts;
try {
  ({ values: opts } = parseArgs({
    options: {
      base: { type: "string" },
      issuer: { type: "string" },
      login: { type: "string", default: "alice" },
      provider: { type: "string", default: "oidc" },
      "client-id": { type: "string" },
      "client-secret": { type: "string" },
      "redirect-uri": { type: "string" },
      "post-logout-redirect-uri": { type: "string" },
      events: { type: "string" },
      "access-ttl": { type: "string" },
      concurrency: { type: "string", default: "10" },
      refresh: { type: "boolean", default: false },
      logout: { type: "boolean", default: false },
      "require-rp-logout": { type: "boolean", default: false },
      "no-replay": { type: "boolean", default: false },
      tamper: { type: "boolean", default: false },
      selftest: { type: "boolean", default: false },
      "conform-id-token-claims": { type: "boolean", default: false },
    },
    strict: true,
  }));
} catch (err) {
  usage(err.message);
}

const issuer = opts.issuer;
if (!issuer || !/^https?:\/\/[^/]+$/.test(issuer)) usage("--issuer must be an origin such as http://127.0.0.1:N (no path, no trailing slash)");
const accessTtl = opts["access-ttl"] === undefined ? undefined : Number.parseInt(opts["access-ttl"], 10);
if (accessTtl !== undefined && !(accessTtl > 0)) usage("--access-ttl must be a positive number of seconds");
const login = opts.login;
const expectedUser = {
  name: login[0].toUpperCase() + login.slice(1),
  email: `${login}@example.test`,
  image: `https://example.test/${encodeURIComponent(login)}.png`,
};

// ---- output -----------------------------------------------------------------------------------------

class Abort extends Error {}
let passed = 0;
let failed = 0;

/** Run one check. A failure is printed; unless {soft: true}, it also stops the run. */
async function check(name, fn, { soft = false } = {}) {
  try {
    const result = await fn();
    passed++;
    console.log(`# pass ${name}`);
    return result;
  } catch (err) {
    failed++;
    const why = (err?.message ?? String(err)).replace(/\s+/g, " ").trim();
    console.log(`# fail ${name}: ${why}`);
    if (!soft) throw new Abort(name);
    return undefined;
  }
}
const note = (msg) => console.log(`# note ${msg}`);

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
function assertEqual(actual, expected, what) {
  if (actual !== expected) throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

function finish() {
  if (failed === 0) {
    console.log(`ok ${passed} checks`);
    process.exit(0);
  }
  console.log(`not ok: ${failed} of ${passed + failed} checks failed`);
  process.exit(1);
}

// ---- cookie jar ---------------------------------------------------------------------------------------
// Browser rules that matter here: cookies are scoped to the host name (not the port: portcullis
// and the OP share 127.0.0.1, as they would in a browser) and to their Path; Max-Age wins over
// Expires; Max-Age<=0 or a past Expires deletes; Secure cookies go to https or loopback only;
// values are kept and sent exactly as received.

class Jar {
  #cookies = new Map(); // "host\0path\0name" -> {host, path, name, value, secure, expiresAt}

  apply(url, setCookieHeaders, now = Date.now()) {
    const u = new URL(url);
    for (const header of setCookieHeaders) {
      const [pair, ...attrParts] = header.split(";");
      const eq = pair.indexOf("=");
      if (eq < 1) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const attrs = {};
      for (const part of attrParts) {
        const i = part.indexOf("=");
        const k = (i < 0 ? part : part.slice(0, i)).trim().toLowerCase();
        if (k) attrs[k] = i < 0 ? true : part.slice(i + 1).trim();
      }
      const path = typeof attrs.path === "string" && attrs.path.startsWith("/") ? attrs.path : defaultCookiePath(u.pathname);
      let expiresAt = null;
      if (attrs["max-age"] !== undefined && /^-?\d+$/.test(attrs["max-age"])) {
        const n = Number(attrs["max-age"]);
        expiresAt = n <= 0 ? -Infinity : now + n * 1000;
      } else if (typeof attrs.expires === "string" && !Number.isNaN(Date.parse(attrs.expires))) {
        expiresAt = Date.parse(attrs.expires);
      }
      const key = `${u.hostname}\0${path}\0${name}`;
      if (expiresAt !== null && expiresAt <= now) this.#cookies.delete(key);
      else this.#cookies.set(key, { host: u.hostname, path, name, value, secure: attrs.secure === true, expiresAt });
    }
  }

  /** Cookies sent to `url`, longest path first. */
  matching(url, now = Date.now()) {
    const u = new URL(url);
    const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname);
    const out = [];
    for (const [key, c] of this.#cookies) {
      if (c.expiresAt !== null && c.expiresAt <= now) {
        this.#cookies.delete(key);
        continue;
      }
      if (c.host !== u.hostname || !cookiePathMatches(u.pathname, c.path)) continue;
      if (c.secure && u.protocol !== "https:" && !loopback) continue;
      out.push(c);
    }
    return out.sort((a, b) => b.path.length - a.path.length);
  }

  header(url) {
    return this.matching(url)
      .map((c) => `${c.name}=${c.value}`)
      .join("; ");
  }

  get(url, name) {
    return this.matching(url).find((c) => c.name === name);
  }

  names(url) {
    return this.matching(url).map((c) => c.name);
  }
}

function defaultCookiePath(pathname) {
  const i = pathname.lastIndexOf("/");
  return i <= 0 ? "/" : pathname.slice(0, i);
}
function cookiePathMatches(reqPath, cookiePath) {
  if (reqPath === cookiePath) return true;
  if (!reqPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith("/") || reqPath[cookiePath.length] === "/";
}

// ---- HTTP -------------------------------------------------------------------------------------------

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * One request, no redirect following. `form` (object) is sent url-encoded; `json` parses the
 * body. Cookies from `jar` are attached and every Set-Cookie of the answer is stored.
 * Returns {status, location (absolute URL string or null), headers, setCookies, text, url}.
 */
async function request(jar, url, { method = "GET", form, headers = {}, cookieHeader } = {}) {
  const h = new Headers(headers);
  const cookie = cookieHeader ?? jar?.header(url) ?? "";
  if (cookie) h.set("cookie", cookie);
  let body;
  if (form) {
    h.set("content-type", "application/x-www-form-urlencoded");
    body = new URLSearchParams(form).toString();
  }
  let res;
  try {
    res = await fetch(url, { method, headers: h, body, redirect: "manual", signal: AbortSignal.timeout(15_000) });
  } catch (err) {
    throw new Error(`${method} ${url}: ${err.cause?.code ?? err.message}`);
  }
  const setCookies = res.headers.getSetCookie();
  jar?.apply(url, setCookies);
  const text = await res.text();
  const loc = res.headers.get("location");
  return {
    status: res.status,
    location: loc === null ? null : new URL(loc, url).href,
    headers: res.headers,
    setCookies,
    text,
    url: String(url),
  };
}

function json(res, what) {
  try {
    return JSON.parse(res.text);
  } catch {
    throw new Error(`${what}: not JSON (status ${res.status}): ${snippet(res.text)}`);
  }
}

/** The readable part of an answer for a failure message (oidc-provider error pages: <pre> lines). */
function snippet(text) {
  const pres = [...String(text).matchAll(/<pre><strong>([^<]+)<\/strong>: ([^<]*)<\/pre>/g)].map((m) => `${m[1]}=${decodeEntities(m[2])}`);
  if (pres.length) return pres.join(", ");
  return String(text).replace(/\s+/g, " ").slice(0, 300);
}

/** "name=…" for a cookie being set, "name (cleared)" for one being deleted. */
function cookieSummary(setCookie) {
  const [pair] = setCookie.split(";");
  const name = pair.split("=")[0];
  const cleared = pair.endsWith("=") || /;\s*max-age=0\b/i.test(setCookie) || /;\s*expires=[^;]*1970/i.test(setCookie);
  return cleared ? `${name}(cleared)` : `${name}=…`;
}

/** A URL for a note line, with token-like parameters shortened. */
function redactUrl(url) {
  const u = new URL(url);
  for (const k of ["id_token_hint", "code", "state", "nonce", "code_challenge"]) {
    const v = u.searchParams.get(k);
    if (v && v.length > 12) u.searchParams.set(k, `${v.slice(0, 8)}…`);
  }
  return decodeURIComponent(u.href);
}

function describe(res) {
  return `${res.status}${res.location ? ` -> ${res.location}` : ""}${res.status >= 400 ? ` (${snippet(res.text)})` : ""}`;
}

// ---- HTML forms of the OP ---------------------------------------------------------------------------

function decodeEntities(s) {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#0*39;|&#x0*27;|&apos;/gi, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}
function attributes(tag) {
  const attrs = {};
  for (const m of tag.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
    attrs[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? "");
  }
  return attrs;
}

/**
 * The first form of an HTML page as a browser would submit it: its action (absolute), method,
 * and fields: hidden/text inputs inside it, plus the first named submit button that belongs to it
 * (inside it, or outside with form="<id>", as on oidc-provider's logout page).
 */
function parseForm(html, pageUrl) {
  const m = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html);
  if (!m) return null;
  const formAttrs = attributes(m[1]);
  const fields = {};
  const inputs = [];
  for (const im of m[2].matchAll(/<input\b([^>]*)>/gi)) {
    const a = attributes(im[1].replace(/\/$/, ""));
    inputs.push(a);
    if (a.name && !["submit", "button", "checkbox", "radio"].includes(a.type)) fields[a.name] = a.value ?? "";
  }
  const buttons = [...m[2].matchAll(/<button\b([^>]*)>/gi)].map((b) => attributes(b[1]));
  if (formAttrs.id) {
    for (const b of html.matchAll(/<button\b([^>]*)>/gi)) {
      const a = attributes(b[1]);
      if (a.form === formAttrs.id) buttons.push(a);
    }
  }
  const submitter = buttons.find((b) => b.name && (b.type ?? "submit") === "submit");
  if (submitter) fields[submitter.name] = submitter.value ?? "";
  return {
    id: formAttrs.id,
    action: new URL(formAttrs.action || pageUrl, pageUrl).href,
    method: (formAttrs.method || "get").toUpperCase(),
    fields,
    inputs,
  };
}

/**
 * Browse on the OP from `startUrl` as a user would: follow redirects that stay on the OP's
 * origin, fill in the login page (any password), accept the consent and logout pages, until a
 * redirect leaves the OP. Returns {final: the URL it leaves to, pages: the page kinds seen, steps}.
 */
async function browseOp(jar, startUrl, { loginName = login, maxSteps = 20 } = {}) {
  const opOrigin = new URL(issuer).origin;
  const pages = [];
  const steps = [];
  let next = { url: startUrl, method: "GET", form: undefined };
  for (let i = 0; i < maxSteps; i++) {
    const res = await request(jar, next.url, { method: next.method, form: next.form });
    steps.push(`${next.method} ${new URL(next.url).pathname} ${res.status}`);
    if (REDIRECTS.has(res.status) && res.location) {
      if (new URL(res.location).origin !== opOrigin) return { final: res.location, pages, steps, status: res.status };
      next = { url: res.location, method: "GET" };
      continue;
    }
    if (res.status !== 200) throw new Error(`OP answered ${describe(res)} at ${next.method} ${next.url}`);
    const form = parseForm(res.text, next.url);
    if (!form) throw new Error(`OP page without a form at ${next.url}: ${snippet(res.text)}`);
    const fields = { ...form.fields };
    let kind;
    if (fields.prompt === "login") {
      kind = "login";
      fields.login = loginName;
      fields.password = "any-password";
    } else if (fields.prompt === "consent") {
      kind = "consent";
    } else if (form.id === "op.logoutForm" || "xsrf" in fields) {
      kind = "logout";
      assert(fields.logout === "yes", `logout form: the "Yes, sign me out" button was not found (fields ${JSON.stringify(fields)})`);
    } else {
      throw new Error(`unknown OP page at ${next.url}: form fields ${JSON.stringify(fields)}`);
    }
    pages.push(kind);
    next = { url: form.action, method: form.method, form: form.method === "POST" ? fields : undefined };
    if (form.method !== "POST") {
      const u = new URL(form.action);
      for (const [k, v] of Object.entries(fields)) u.searchParams.set(k, v);
      next.url = u.href;
    }
  }
  throw new Error(`no redirect off the OP after ${maxSteps} steps: ${steps.join(", ")}`);
}

// ---- OIDC helpers -----------------------------------------------------------------------------------

const b64url = (buf) => Buffer.from(buf).toString("base64url");
const pkcePair = () => {
  const verifier = b64url(randomBytes(32));
  return { verifier, challenge: b64url(createHash("sha256").update(verifier).digest()) };
};

function decodeJwt(token) {
  const parts = String(token).split(".");
  assert(parts.length === 3, `not a compact JWS (${parts.length} parts)`);
  return {
    header: JSON.parse(Buffer.from(parts[0], "base64url").toString("utf8")),
    payload: JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8")),
    signingInput: `${parts[0]}.${parts[1]}`,
    signature: Buffer.from(parts[2], "base64url"),
  };
}

function verifyJwtRs256(token, jwks) {
  const jwt = decodeJwt(token);
  assertEqual(jwt.header.alg, "RS256", "JWS alg");
  const jwk = jwks.keys.find((k) => k.kid === jwt.header.kid);
  assert(jwk, `kid ${jwt.header.kid} not in the JWKS`);
  const key = createPublicKey({ key: jwk, format: "jwk" });
  assert(verifySignature("RSA-SHA256", Buffer.from(jwt.signingInput), key, jwt.signature), "RS256 signature does not verify against the JWKS");
  return jwt.payload;
}

async function discover() {
  const res = await request(null, `${issuer}/.well-known/openid-configuration`);
  assertEqual(res.status, 200, "discovery status");
  return json(res, "discovery");
}

/** Events written by op.mjs --events, from line `from` on. */
function readEvents(from = 0) {
  if (!opts.events || !existsSync(opts.events)) return [];
  const lines = readFileSync(opts.events, "utf8").split("\n").filter(Boolean);
  return lines.slice(from).map((l) => JSON.parse(l));
}
const eventCount = () => readEvents().length;
const count = (events, name, pred = () => true) => events.filter((e) => e.event === name && pred(e)).length;
const summarise = (events) => events.map((e) => `${e.event}${e.grant_type ? `(${e.grant_type})` : ""}${e.error ? `[${e.error}]` : ""}`).join(" ") || "(none)";

// ---- self-test: the OP alone --------------------------------------------------------------------------

async function selftest() {
  const clientId = opts["client-id"];
  const clientSecret = opts["client-secret"];
  const redirectUri = opts["redirect-uri"];
  if (!clientId || !clientSecret || !redirectUri) usage("--selftest needs --client-id, --client-secret and --redirect-uri");
  const ttl = accessTtl ?? 3600;
  const postLogout = opts["post-logout-redirect-uri"];
  const jar = new Jar();
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString("base64")}`;
  const token = (form) => request(null, meta.token_endpoint, { method: "POST", form, headers: { authorization: basic, accept: "application/json" } });
  const startEvents = eventCount();
  let meta;
  let jwks;

  meta = await check("discovery: issuer, endpoints, S256, iss parameter, end_session_endpoint", async () => {
    const m = await discover();
    assertEqual(m.issuer, issuer, "issuer");
    for (const ep of ["authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint", "end_session_endpoint"]) {
      assert(typeof m[ep] === "string" && m[ep].startsWith(`${issuer}/`), `${ep} on the issuer: ${m[ep]}`);
    }
    assertEqual(m.authorization_response_iss_parameter_supported, true, "authorization_response_iss_parameter_supported");
    assertEqual(JSON.stringify(m.code_challenge_methods_supported), '["S256"]', "code_challenge_methods_supported");
    assertEqual(JSON.stringify(m.response_types_supported), '["code"]', "response_types_supported");
    for (const s of ["openid", "profile", "email", "offline_access"]) assert(m.scopes_supported.includes(s), `scopes_supported has ${s}`);
    for (const g of ["authorization_code", "refresh_token"]) assert(m.grant_types_supported.includes(g), `grant_types_supported has ${g}`);
    assert(m.id_token_signing_alg_values_supported.includes("RS256"), "RS256 ID tokens");
    assert(m.token_endpoint_auth_methods_supported.includes("client_secret_basic"), "client_secret_basic");
    return m;
  });

  jwks = await check("JWKS: one public RS256 signing key, no private parts", async () => {
    const res = await request(null, meta.jwks_uri);
    assertEqual(res.status, 200, "jwks status");
    const set = json(res, "jwks");
    assertEqual(set.keys?.length, 1, "number of keys");
    const [k] = set.keys;
    assertEqual(k.kty, "RSA", "kty");
    assertEqual(k.alg, "RS256", "alg");
    assertEqual(k.use, "sig", "use");
    assert(k.kid && k.n && k.e, "kid, n and e present");
    for (const priv of ["d", "p", "q", "dp", "dq", "qi"]) assert(!(priv in k), `private member ${priv} published`);
    assert(Buffer.from(k.n, "base64url").length >= 256, "modulus of 2048 bits or more");
    return set;
  });

  const authorizeUrl = (extra) => {
    const u = new URL(meta.authorization_endpoint);
    const params = { response_type: "code", client_id: clientId, redirect_uri: redirectUri, scope: "openid profile email", ...extra };
    for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
    return u.href;
  };

  await check("PKCE is required: an authorization request without code_challenge is refused", async () => {
    const state = b64url(randomBytes(12));
    const res = await request(jar, authorizeUrl({ state }));
    assert(REDIRECTS.has(res.status) && res.location, `expected an error redirect, got ${describe(res)}`);
    const loc = new URL(res.location);
    assertEqual(`${loc.origin}${loc.pathname}`, redirectUri, "error redirected to the client");
    assertEqual(loc.searchParams.get("error"), "invalid_request", "error");
    assertEqual(loc.searchParams.get("state"), state, "state echoed");
    assertEqual(loc.searchParams.get("iss"), issuer, "iss on error responses too");
    note(`without PKCE: error=invalid_request error_description=${JSON.stringify(loc.searchParams.get("error_description"))}`);
  });

  const pkce = pkcePair();
  const state = b64url(randomBytes(16));
  const nonce = b64url(randomBytes(16));
  const code = await check("authorization: login + consent pages, then code, state and iss to the redirect URI", async () => {
    const { final, pages, status } = await browseOp(jar, authorizeUrl({ state, nonce, code_challenge: pkce.challenge, code_challenge_method: "S256" }));
    assertEqual(pages.join(","), "login,consent", "interaction pages");
    assert(REDIRECTS.has(status), `final status ${status}`);
    const u = new URL(final);
    assertEqual(`${u.origin}${u.pathname}`, redirectUri, "redirected to");
    assertEqual(u.searchParams.get("state"), state, "state");
    assertEqual(u.searchParams.get("iss"), issuer, "iss (RFC 9207)");
    assert(u.searchParams.get("code"), "code present");
    assert(!u.searchParams.has("error"), `error ${u.searchParams.get("error")}`);
    return u.searchParams.get("code");
  });

  await check("token: a wrong code_verifier is invalid_grant (and does not burn the code)", async () => {
    const res = await token({ grant_type: "authorization_code", code, redirect_uri: redirectUri, code_verifier: pkcePair().verifier });
    assertEqual(res.status, 400, "status");
    assertEqual(json(res, "token error").error, "invalid_grant", "error");
  });

  await check("token: client_secret_post is refused for this client (client_secret_basic only)", async () => {
    const res = await request(null, meta.token_endpoint, {
      method: "POST",
      form: { grant_type: "authorization_code", code, redirect_uri: redirectUri, code_verifier: pkce.verifier, client_id: clientId, client_secret: clientSecret },
    });
    assertEqual(res.status, 401, `status (${snippet(res.text)})`);
    assertEqual(json(res, "token error").error, "invalid_client", "error");
  });

  const tokens = await check(`token: code + verifier with client_secret_basic → access (expires_in ${ttl}), refresh and ID token`, async () => {
    const res = await token({ grant_type: "authorization_code", code, redirect_uri: redirectUri, code_verifier: pkce.verifier });
    assertEqual(res.status, 200, `status (${snippet(res.text)})`);
    const t = json(res, "token");
    assertEqual(t.token_type, "Bearer", "token_type");
    assertEqual(t.expires_in, ttl, "expires_in");
    assert(t.access_token && t.refresh_token && t.id_token, `access_token, refresh_token and id_token present: ${Object.keys(t)}`);
    assert(t.scope.split(" ").includes("openid"), `scope ${t.scope}`);
    note(`refresh token issued without offline_access (scope "${t.scope}")`);
    return t;
  });

  await check("ID token: RS256 signature verifies against the JWKS; iss, aud, sub, nonce, exp; profile claims", async () => {
    const p = verifyJwtRs256(tokens.id_token, jwks);
    assertEqual(p.iss, issuer, "iss");
    assertEqual(p.aud, clientId, "aud");
    assertEqual(p.sub, login, "sub");
    assertEqual(p.nonce, nonce, "nonce");
    assert(p.exp > Date.now() / 1000 && p.iat <= Date.now() / 1000 + 5, `exp/iat ${p.iat}..${p.exp}`);
    if (opts["conform-id-token-claims"]) {
      for (const c of ["email", "name", "picture"]) assert(!(c in p), `${c} must only be at userinfo with --conform-id-token-claims`);
    } else {
      assertEqual(p.email, expectedUser.email, "email");
      assertEqual(p.email_verified, true, "email_verified");
      assertEqual(p.name, expectedUser.name, "name");
      assertEqual(p.picture, expectedUser.image, "picture");
    }
  });

  await check("userinfo: Bearer access token → sub, email, email_verified, name, picture", async () => {
    const res = await request(null, meta.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assertEqual(res.status, 200, `status (${snippet(res.text)})`);
    const u = json(res, "userinfo");
    const sorted = (o) => JSON.stringify(Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b))));
    assertEqual(
      sorted(u),
      sorted({ sub: login, email: expectedUser.email, email_verified: true, name: expectedUser.name, picture: expectedUser.image }),
      "userinfo",
    );
  });

  const rt1 = tokens.refresh_token;
  const rt2 = await check("refresh #1: new access token and a rotated refresh token", async () => {
    const res = await token({ grant_type: "refresh_token", refresh_token: rt1 });
    assertEqual(res.status, 200, `status (${snippet(res.text)})`);
    const t = json(res, "refresh");
    assert(t.refresh_token && t.refresh_token !== rt1, "a new refresh token");
    assert(t.access_token && t.access_token !== tokens.access_token, "a new access token");
    assertEqual(t.expires_in, ttl, "expires_in");
    assert(t.id_token, "an ID token on refresh too");
    return t.refresh_token;
  });

  const rt3 = await check("refresh #2 with the rotated token: ok, rotated again", async () => {
    const res = await token({ grant_type: "refresh_token", refresh_token: rt2 });
    assertEqual(res.status, 200, `status (${snippet(res.text)})`);
    const t = json(res, "refresh");
    assert(t.refresh_token && t.refresh_token !== rt2 && t.refresh_token !== rt1, "a new refresh token");
    return t.refresh_token;
  });

  await check("refresh with an already rotated token: 400 invalid_grant", async () => {
    const res = await token({ grant_type: "refresh_token", refresh_token: rt1 });
    assertEqual(res.status, 400, "status");
    const e = json(res, "refresh error");
    assertEqual(e.error, "invalid_grant", "error");
    note(`reuse answer: ${JSON.stringify(e)}`);
  });

  await check("reuse detection revoked the grant: the newest refresh token fails too", async () => {
    const res = await token({ grant_type: "refresh_token", refresh_token: rt3 });
    assertEqual(res.status, 400, "status");
    assertEqual(json(res, "refresh error").error, "invalid_grant", "error");
  });

  await check("authorization code reuse: second exchange is invalid_grant", async () => {
    // The grant was revoked above, so the OP asks for consent again (the OP session remains).
    const p = pkcePair();
    const st = b64url(randomBytes(16));
    const { final, pages } = await browseOp(jar, authorizeUrl({ state: st, nonce, code_challenge: p.challenge, code_challenge_method: "S256" }));
    note(`second authorization pages: ${pages.join(",") || "(none: straight back)"}`);
    const c = new URL(final).searchParams.get("code");
    assert(c, `no code in ${final}`);
    const first = await token({ grant_type: "authorization_code", code: c, redirect_uri: redirectUri, code_verifier: p.verifier });
    assertEqual(first.status, 200, `first exchange (${snippet(first.text)})`);
    const again = await token({ grant_type: "authorization_code", code: c, redirect_uri: redirectUri, code_verifier: p.verifier });
    assertEqual(again.status, 400, "second exchange status");
    assertEqual(json(again, "token error").error, "invalid_grant", "error");
    tokens.id_token = json(first, "token").id_token;
  });

  if (postLogout) {
    await check("RP-initiated logout: id_token_hint + post_logout_redirect_uri + state → confirm → 303 back", async () => {
      const st = b64url(randomBytes(8));
      const u = new URL(meta.end_session_endpoint);
      u.searchParams.set("id_token_hint", tokens.id_token);
      u.searchParams.set("post_logout_redirect_uri", postLogout);
      u.searchParams.set("state", st);
      const { final, pages, status } = await browseOp(jar, u.href);
      assertEqual(pages.join(","), "logout", "pages");
      assertEqual(status, 303, "final status");
      const f = new URL(final);
      assertEqual(`${f.origin}${f.pathname}`, new URL(postLogout).href.replace(/\?.*$/, ""), "redirected to");
      assertEqual(f.searchParams.get("state"), st, "state echoed");
    });
    await check("after logout the OP session is gone: prompt=none → login_required", async () => {
      const p = pkcePair();
      const res = await request(jar, authorizeUrl({ state: "s", prompt: "none", code_challenge: p.challenge, code_challenge_method: "S256" }));
      assert(REDIRECTS.has(res.status) && res.location, `expected a redirect, got ${describe(res)}`);
      assertEqual(new URL(res.location).searchParams.get("error"), "login_required", "error");
    });
    await check("an unregistered post_logout_redirect_uri is refused", async () => {
      const u = new URL(meta.end_session_endpoint);
      u.searchParams.set("id_token_hint", tokens.id_token);
      u.searchParams.set("post_logout_redirect_uri", "http://127.0.0.1:9/not-registered");
      const res = await request(jar, u.href, { headers: { accept: "application/json" } });
      assertEqual(res.status, 400, "status");
      assertEqual(json(res, "end_session error").error, "invalid_request", "error");
    });
  } else {
    note("no --post-logout-redirect-uri: RP-initiated logout not exercised");
  }

  if (opts.events) {
    await check("events file: grant.success per grant type, grant.error invalid_grant, refresh_token.consumed, end_session.success", async () => {
      await sleep(100);
      const ev = readEvents(startEvents);
      const s = summarise(ev);
      assertEqual(count(ev, "grant.success", (e) => e.grant_type === "authorization_code"), 2, `authorization_code grants in ${s}`);
      assertEqual(count(ev, "grant.success", (e) => e.grant_type === "refresh_token"), 2, `refresh_token grants in ${s}`);
      assert(count(ev, "grant.error", (e) => e.error === "invalid_grant") >= 4, `grant.error invalid_grant (wrong verifier, reuse x2, code reuse) in ${s}`);
      assertEqual(count(ev, "refresh_token.consumed"), 2, `refresh_token.consumed in ${s}`);
      if (postLogout) assertEqual(count(ev, "end_session.success"), 1, `end_session.success in ${s}`);
      assert(ev.every((e) => typeof e.ts === "number"), "every event has a numeric ts");
      note(`events: ${s}`);
    });
  }
}

// ---- portcullis through the OP -----------------------------------------------------------------------

async function portcullis() {
  const base = (opts.base ?? "").replace(/\/$/, "");
  if (!/^https?:\/\/[^/]+\/.+/.test(base)) usage("--base must be portcullis' auth base URL, e.g. http://127.0.0.1:P/api/auth");
  if (opts.refresh && (!opts.events || accessTtl === undefined)) usage("--refresh needs --events FILE and --access-ttl SECONDS");
  const id = opts.provider;
  const origin = new URL(base).origin;
  const callbackUrl = `${origin}/`;
  const callbackPath = `${base}/callback/${id}`;
  const jar = new Jar();
  const startEvents = eventCount();
  const sessionCookie = () => jar.get(base, "authjs.session-token") ?? jar.get(base, "authjs.session-token.0");

  const meta = await check("OP discovery answers (issuer as given)", async () => {
    const m = await discover();
    assertEqual(m.issuer, issuer, "issuer");
    return m;
  });

  await check(`GET /providers lists ${id} (type oidc, signinUrl, callbackUrl)`, async () => {
    const res = await request(jar, `${base}/providers`);
    assertEqual(res.status, 200, "status");
    const p = json(res, "providers")[id];
    assert(p, `no "${id}" in ${res.text}`);
    assertEqual(p.id, id, "id");
    assertEqual(p.type, "oidc", "type");
    assertEqual(p.signinUrl, `${base}/signin/${id}`, "signinUrl");
    assertEqual(p.callbackUrl, callbackPath, "callbackUrl");
    assert(typeof p.name === "string" && p.name.length > 0, `name: ${JSON.stringify(p.name)}`);
    note(`provider: ${JSON.stringify(p)}`);
  });

  let csrfToken = await check("GET /csrf gives a token", async () => {
    const res = await request(jar, `${base}/csrf`);
    assertEqual(res.status, 200, "status");
    const t = json(res, "csrf").csrfToken;
    assert(typeof t === "string" && t.length > 0, "csrfToken");
    return t;
  });

  const authz = await check(`POST /signin/${id} → 302 to the OP's authorization endpoint with code, PKCE S256, state, nonce, openid`, async () => {
    const res = await request(jar, `${base}/signin/${id}`, { method: "POST", form: { csrfToken, callbackUrl } });
    assertEqual(res.status, 302, `status (${describe(res)})`);
    const u = new URL(res.location);
    assertEqual(`${u.origin}${u.pathname}`, meta.authorization_endpoint, "redirect target");
    const q = u.searchParams;
    for (const k of new Set(q.keys())) assertEqual(q.getAll(k).length, 1, `occurrences of ${k}`);
    assertEqual(q.get("response_type"), "code", "response_type");
    assert(q.get("client_id"), "client_id present");
    if (opts["client-id"]) assertEqual(q.get("client_id"), opts["client-id"], "client_id");
    assertEqual(q.get("redirect_uri"), callbackPath, "redirect_uri");
    assert(q.get("state"), "state present");
    assert(/^[A-Za-z0-9_-]{43}$/.test(q.get("code_challenge") ?? ""), `code_challenge is 43 base64url chars: ${q.get("code_challenge")}`);
    assertEqual(q.get("code_challenge_method"), "S256", "code_challenge_method");
    assert(q.get("nonce"), "nonce present");
    assert((q.get("scope") ?? "").split(" ").includes("openid"), `scope has openid: ${q.get("scope")}`);
    note(`authorization params: ${[...q.keys()].join(" ")}; scope="${q.get("scope")}"`);
    note(`cookies set by signin: ${res.setCookies.map(cookieSummary).join(" ") || "(none)"}`);
    return { url: u.href, state: q.get("state") };
  });

  const callback = await check("OP login + consent → redirect to the callback with code, state and iss", async () => {
    const { final, pages } = await browseOp(jar, authz.url);
    note(`OP pages: ${pages.join(",")}`);
    const u = new URL(final);
    assertEqual(`${u.origin}${u.pathname}`, callbackPath, `redirected to (${final})`);
    assert(!u.searchParams.has("error"), `OP error: ${u.searchParams.get("error")} ${u.searchParams.get("error_description")}`);
    assert(u.searchParams.get("code"), "code");
    assertEqual(u.searchParams.get("state"), authz.state, "state");
    assertEqual(u.searchParams.get("iss"), issuer, "iss");
    return final;
  });

  let signedInAt;
  await check(`GET callback → 302 to the callbackUrl (${callbackUrl}) with the session cookie`, async () => {
    const res = await request(jar, callback);
    signedInAt = Date.now();
    assertEqual(res.status, 302, `status (${describe(res)})`);
    assertEqual(res.location, callbackUrl, "Location");
    assert(sessionCookie(), `session cookie authjs.session-token set; cookies: ${jar.names(base).join(" ")}`);
    note(`cookies set by callback: ${res.setCookies.map(cookieSummary).join(" ")}`);
  });

  const sessionOk = (s, what) => {
    assert(s && typeof s === "object", `${what}: expected a session, got ${JSON.stringify(s)}`);
    assert(!("error" in s), `${what}: error field ${JSON.stringify(s.error)}`);
    assertEqual(s.user?.name, expectedUser.name, `${what}: user.name`);
    assertEqual(s.user?.email, expectedUser.email, `${what}: user.email`);
    assertEqual(s.user?.image, expectedUser.image, `${what}: user.image`);
    assert(typeof s.expires === "string" && Date.parse(s.expires) > Date.now(), `${what}: expires in the future: ${s.expires}`);
    const text = JSON.stringify(s);
    assert(!/(access|refresh|id)_?token/i.test(text), `${what}: tokens leaked into the session: ${text}`);
  };
  const getSession = async (cookieHeader) => {
    const res = await request(jar, `${base}/session`, { cookieHeader });
    assertEqual(res.status, 200, `GET /session status (${snippet(res.text)})`);
    return { res, body: json(res, "session") };
  };

  await check("GET /session → user name/email/image from the OP, expires, no error", async () => {
    const { body } = await getSession();
    sessionOk(body, "session");
  });

  const signInEvents = eventCount();
  if (opts.events) {
    await check("OP events of the sign-in: one authorization_code grant, no grant error", async () => {
      const ev = readEvents(startEvents);
      assertEqual(count(ev, "grant.success", (e) => e.grant_type === "authorization_code"), 1, `authorization_code grants in ${summarise(ev)}`);
      assertEqual(count(ev, "grant.error"), 0, `grant errors in ${summarise(ev)}`);
    });
  }

  if (!opts["no-replay"]) {
    const before = JSON.stringify(sessionCookie() ?? null);
    await check("replaying the callback URL: a redirect to the error or sign-in page, no new session, never 5xx", async () => {
      const res = await request(jar, callback);
      note(`replay: ${res.status} -> ${res.location}`);
      assert(res.status < 500, `server error ${res.status}: ${snippet(res.text)}`);
      assert([302, 303].includes(res.status), `expected a redirect, got ${describe(res)}`);
      const loc = new URL(res.location);
      const errorPage = `${loc.origin}${loc.pathname}` === `${base}/error` && loc.searchParams.get("error") === "Configuration";
      const signinPage = `${loc.origin}${loc.pathname}` === `${base}/signin` && loc.searchParams.has("error");
      assert(errorPage || signinPage, `Location ${res.location}: expected ${base}/error?error=Configuration or ${base}/signin?error=…`);
      const newSession = res.setCookies.filter((c) => /^authjs\.session-token(\.\d+)?=[^;]/.test(c));
      assertEqual(newSession.length, 0, "session cookies set by the replay");
      assertEqual(JSON.stringify(sessionCookie() ?? null), before, "session cookie unchanged");
    });
    await check("after the replay the session is still the same user", async () => {
      const { body } = await getSession();
      sessionOk(body, "session after replay");
    });
    if (opts.events) {
      await check("the replay never reached the OP's token endpoint", async () => {
        const ev = readEvents(signInEvents);
        assertEqual(count(ev, "grant.success") + count(ev, "grant.error"), 0, `token endpoint events during the replay: ${summarise(ev)}`);
      });
    }
  }

  if (opts.tamper) {
    // Fresh browsers (jars), each signing in up to the OP's redirect, which is then altered before
    // it reaches portcullis. RFC 9207: the OP advertises authorization_response_iss_parameter_supported,
    // so a response whose iss is wrong or missing must be rejected, like a wrong state, before
    // any token request.
    const cases = [
      ["a wrong iss", (u) => u.searchParams.set("iss", "http://127.0.0.1:9")],
      ["no iss", (u) => u.searchParams.delete("iss")],
      ["a wrong state", (u) => u.searchParams.set("state", `x${u.searchParams.get("state")}`)],
    ];
    for (const [what, alter] of cases) {
      await check(`callback with ${what}: redirect to the error or sign-in page, no session, no token request`, async () => {
        const j = new Jar();
        const before = eventCount();
        const csrf = json(await request(j, `${base}/csrf`), "csrf").csrfToken;
        const start = await request(j, `${base}/signin/${id}`, { method: "POST", form: { csrfToken: csrf, callbackUrl } });
        assertEqual(start.status, 302, `POST /signin/${id} (${describe(start)})`);
        const { final } = await browseOp(j, start.location);
        const u = new URL(final);
        alter(u);
        const res = await request(j, u.href);
        note(`callback with ${what}: ${res.status} -> ${res.location}`);
        assert(res.status < 500, `server error ${res.status}: ${snippet(res.text)}`);
        assert([302, 303].includes(res.status), `expected a redirect, got ${describe(res)}`);
        const loc = new URL(res.location);
        const where = `${loc.origin}${loc.pathname}`;
        assert(
          (where === `${base}/error` && loc.searchParams.get("error") === "Configuration") || (where === `${base}/signin` && loc.searchParams.has("error")),
          `Location ${res.location}: expected ${base}/error?error=Configuration or ${base}/signin?error=…`,
        );
        assert(!j.get(base, "authjs.session-token") && !j.get(base, "authjs.session-token.0"), "a session cookie was set");
        const after = await request(j, `${base}/session`);
        assertEqual(after.text.trim(), "null", "GET /session");
        const ev = readEvents(before);
        assertEqual(count(ev, "grant.success") + count(ev, "grant.error"), 0, `token requests for a rejected response: ${summarise(ev)}`);
      }, { soft: true });
    }
  }

  if (opts.refresh) {
    const n = Number.parseInt(opts.concurrency, 10);
    const refreshBase = eventCount();
    const waitMs = signedInAt + (accessTtl + 1) * 1000 - Date.now();
    note(`waiting ${Math.max(0, waitMs)} ms for the access token (ttl ${accessTtl} s) to expire`);
    await sleep(Math.max(0, waitMs));

    await check(`${n} concurrent GET /session after expiry: all 200 with the user, no error`, async () => {
      const cookieHeader = jar.header(`${base}/session`);
      const results = await Promise.all(Array.from({ length: n }, () => getSession(cookieHeader).catch((err) => ({ err }))));
      const problems = [];
      results.forEach((r, i) => {
        if (r.err) problems.push(`#${i}: ${r.err.message}`);
        else {
          try {
            sessionOk(r.body, `#${i}`);
          } catch (err) {
            problems.push(err.message);
          }
        }
      });
      const rotated = results.filter((r) => r.res?.setCookies.some((c) => /^authjs\.session-token(\.\d+)?=[^;]/.test(c))).length;
      note(`${rotated} of ${n} answers set a session cookie`);
      assert(problems.length === 0, problems.join("; "));
    }, { soft: true }); // soft: the OP events below say why (one refresh per request? invalid_grant?)

    await check("OP events: exactly one refresh_token grant for the concurrent burst, no grant error", async () => {
      await sleep(300);
      const ev = readEvents(refreshBase);
      note(`events during the burst: ${summarise(ev)}`);
      assertEqual(count(ev, "grant.success", (e) => e.grant_type === "refresh_token"), 1, "refresh_token grants");
      assertEqual(count(ev, "grant.error"), 0, "grant errors");
    });

    const secondBase = eventCount();
    const after = Date.now();
    await sleep((accessTtl + 1) * 1000);
    await check("after the refreshed token expires too: GET /session still fine", async () => {
      const { body } = await getSession();
      sessionOk(body, "session after the second expiry");
    });
    await check("OP events: a second refresh_token grant (with the rotated refresh token), still no grant error", async () => {
      await sleep(300);
      const ev = readEvents(secondBase);
      note(`events after the second expiry (${Date.now() - after} ms): ${summarise(ev)}`);
      assertEqual(count(ev, "grant.success", (e) => e.grant_type === "refresh_token"), 1, "refresh_token grants");
      const all = readEvents(startEvents);
      assertEqual(count(all, "grant.success", (e) => e.grant_type === "refresh_token"), 2, `refresh_token grants since the flow started (${summarise(all)})`);
      assertEqual(count(all, "grant.error"), 0, "grant errors since the flow started (an invalid_grant means a rotated token was reused)");
      assertEqual(count(all, "refresh_token.consumed"), 2, "refresh tokens consumed (rotation)");
    });
  }

  if (opts.logout) {
    const postLogout = opts["post-logout-redirect-uri"];
    const logoutBase = eventCount();
    csrfToken = await check("GET /csrf before sign-out", async () => json(await request(jar, `${base}/csrf`), "csrf").csrfToken);
    const target = await check("POST /signout → 302 to the OP's end_session_endpoint (or to the callbackUrl)", async () => {
      const res = await request(jar, `${base}/signout`, { method: "POST", form: { csrfToken, callbackUrl } });
      assertEqual(res.status, 302, `status (${describe(res)})`);
      note(`signout Location: ${redactUrl(res.location)}`);
      const u = new URL(res.location);
      if (`${u.origin}${u.pathname}` === meta.end_session_endpoint) {
        const q = u.searchParams;
        for (const k of new Set(q.keys())) assertEqual(q.getAll(k).length, 1, `occurrences of ${k}`);
        assert(q.get("id_token_hint") || q.get("client_id"), "id_token_hint or client_id (needed for post_logout_redirect_uri)");
        if (q.get("id_token_hint")) {
          const { payload } = decodeJwt(q.get("id_token_hint"));
          assertEqual(payload.iss, issuer, "id_token_hint iss");
          if (opts["client-id"]) assertEqual(payload.aud, opts["client-id"], "id_token_hint aud");
          assertEqual(payload.sub, login, "id_token_hint sub");
        }
        if (q.get("client_id") && opts["client-id"]) assertEqual(q.get("client_id"), opts["client-id"], "client_id");
        assert(q.get("post_logout_redirect_uri"), "post_logout_redirect_uri present");
        if (postLogout) assertEqual(q.get("post_logout_redirect_uri"), postLogout, "post_logout_redirect_uri");
        note(`end_session params: ${[...q.keys()].join(" ")}; post_logout_redirect_uri=${q.get("post_logout_redirect_uri")}`);
        return { op: true, url: u.href, postLogout: q.get("post_logout_redirect_uri"), state: q.get("state") };
      }
      assert(!opts["require-rp-logout"], `expected the OP's end_session_endpoint ${meta.end_session_endpoint}, got ${res.location}`);
      assertEqual(res.location, callbackUrl, "Location (no RP logout)");
      return { op: false };
    });
    await check("session cookie cleared by the sign-out", async () => {
      assert(!sessionCookie(), `still in the jar: ${jar.names(base).join(" ")}`);
    });
    if (target.op) {
      await check("OP logout confirmation submitted → 303 to the post_logout_redirect_uri", async () => {
        const { final, pages, status } = await browseOp(jar, target.url);
        assertEqual(pages.join(","), "logout", "OP pages");
        assertEqual(status, 303, "status");
        const f = new URL(final);
        const expected = new URL(target.postLogout);
        assertEqual(`${f.origin}${f.pathname}`, `${expected.origin}${expected.pathname}`, `redirected to (${final})`);
        if (target.state) assertEqual(f.searchParams.get("state"), target.state, "state echoed");
        if (final.startsWith(`${base}/`)) {
          const res = await request(jar, final);
          note(`post-logout page on portcullis: ${describe(res)}`);
          assert(res.status < 500, `post-logout URI answered ${res.status}`);
        }
      });
      if (opts.events) {
        await check("OP events: end_session.success", async () => {
          const ev = readEvents(logoutBase);
          assertEqual(count(ev, "end_session.success"), 1, `end_session.success in ${summarise(ev)}`);
        });
      }
    }
    await check("GET /session after sign-out → null", async () => {
      const res = await request(jar, `${base}/session`);
      assertEqual(res.status, 200, "status");
      assertEqual(res.text.trim(), "null", "body");
    });
  }
}

// ---- main -------------------------------------------------------------------------------------------

try {
  if (opts.selftest) await selftest();
  else await portcullis();
} catch (err) {
  if (!(err instanceof Abort)) {
    failed++;
    console.log(`# fail unexpected: ${err?.stack ?? err}`);
  } else {
    console.log(`# note stopped after the failed check "${err.message}"`);
  }
}
finish();
