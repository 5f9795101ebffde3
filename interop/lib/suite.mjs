// The client scenario shared by client-v5.mjs and client-v4.mjs. Each step is a node:test
// test, run in order; the version-specific expectations come from a `profile` (see the two
// client files). Steps assert both what the official client returns and what went over the
// wire (recorded by lib/jar.mjs), so a server that only "looks right" to a lenient client
// still fails.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { installBrowser, lastExchange, parseClientArgs } from "./browser.mjs";
import { captureUseSession } from "./use-session.mjs";
import { parseCompact } from "./keys.mjs";

const HEX64 = /^[0-9a-f]{64}$/;
const DAY = 24 * 3600 * 1000;
const SESSION_MAX_AGE_MS = 30 * DAY;
const CLOCK_SLACK_MS = 2 * 60 * 1000;

/**
 * profile = {
 *   label, importClient: () => module, cookies: {csrf, session, callbackUrl},
 *   noSessionWire: "null" | "{}",            raw body of GET /session without a session
 *   failedUpdateWire: "null" | "{}",         raw body of a rejected POST /session (status 400)
 *   wrongPassword(ctx) -> expected signIn() result, wrongPasswordUrl(ctx) -> data.url on the wire,
 *   signInOk(ctx) -> expected signIn() result,
 *   signInForm: extra form fields the client must send (v4: json, redirect),
 *   jwe: {enc, kid: boolean}, decodeSessionToken(token, secret, cookieName) -> claims,
 * }
 */
export async function runClientSuite(profile) {
  const opts = parseClientArgs();
  const browser = installBrowser({ base: opts.base });
  const client = await profile.importClient();
  const { jar, exchanges, pageUrl, basePath } = browser;
  const ctx = { ...browser, ...opts };
  const cookie = (name) => jar.get(pageUrl, name);
  const state = {};

  const authPath = (action) => `${basePath}/${action}`;
  const exchange = (action, method) => {
    const e = lastExchange(exchanges, authPath(action), method);
    assert.ok(e, `no ${method ?? ""} ${authPath(action)} request was made`);
    return e;
  };
  const assertNoCacheHeaders = (e) => {
    assert.equal(e.responseHeaders.get("cache-control"), "private, no-cache, no-store", "Cache-Control");
    assert.equal(e.responseHeaders.get("expires"), "0", "Expires");
    assert.equal(e.responseHeaders.get("pragma"), "no-cache", "Pragma");
  };
  const assertCookieAttrs = (c, { persistent }) => {
    assert.equal(c.attrs.path, "/", `${c.name}: Path=/`);
    assert.equal(c.attrs.httponly, true, `${c.name}: HttpOnly`);
    assert.equal(String(c.attrs.samesite).toLowerCase(), "lax", `${c.name}: SameSite=Lax`);
    assert.equal(c.attrs.domain, undefined, `${c.name}: no Domain`);
    if (persistent) {
      assert.equal(c.attrs["max-age"], undefined, `${c.name}: Expires only, no Max-Age`);
      const expires = Date.parse(c.attrs.expires);
      assert.ok(Math.abs(expires - (Date.now() + SESSION_MAX_AGE_MS)) < CLOCK_SLACK_MS, `${c.name}: Expires ~ now + 30 days, got ${c.attrs.expires}`);
    } else {
      assert.equal(c.attrs.expires, undefined, `${c.name}: browser-session cookie (no Expires)`);
      assert.equal(c.attrs["max-age"], undefined, `${c.name}: browser-session cookie (no Max-Age)`);
    }
  };
  const assertSessionJson = (s, name) => {
    assert.ok(s && typeof s === "object", `expected a session, got ${JSON.stringify(s)}`);
    assert.deepEqual(Object.keys(s).sort(), ["expires", "user"], "session has exactly user + expires");
    assert.deepEqual(s.user, { name, email: "alice@example.com", id: "1", role: "admin" }, "session.user");
    const text = JSON.stringify(s);
    assert.ok(!/access_?token/i.test(text), `access token leaked into the session: ${text}`);
    assert.ok(!text.includes(state.accessToken ?? "at-"), `access token value leaked into the session: ${text}`);
    assert.match(s.expires, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, "expires is an ISO-8601 UTC date");
    assert.ok(Math.abs(Date.parse(s.expires) - (Date.now() + SESSION_MAX_AGE_MS)) < CLOCK_SLACK_MS, `expires ~ now + 30 days, got ${s.expires}`);
  };
  /** When --secret is known, open the session cookie the way Auth.js would. */
  const decodeJar = async () => {
    const c = cookie(profile.cookies.session);
    assert.ok(c, "session cookie present");
    return profile.decodeSessionToken(decodeURIComponent(c.value), ctx.secret, profile.cookies.session);
  };
  const rawSessionPost = (body) =>
    fetch(authPath("session"), { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

  test(`[${profile.label}] getCsrfToken() returns 64 lowercase hex and sets the csrf cookie`, async () => {
    const token = await client.getCsrfToken();
    state.csrfToken = token;
    assert.match(token, HEX64);
    const e = exchange("csrf", "GET");
    assert.equal(e.status, 200);
    assert.deepEqual(JSON.parse(e.responseBody), { csrfToken: token }, "GET /csrf body");
    assertNoCacheHeaders(e);
    const c = cookie(profile.cookies.csrf);
    assert.ok(c, `jar has ${profile.cookies.csrf}; jar: ${jar.names(pageUrl)}`);
    assert.ok(e.setCookies.some((h) => h.startsWith(`${profile.cookies.csrf}=`)), "csrf cookie set by GET /csrf");
    assertCookieAttrs(c, { persistent: false });
    const [cookieToken, hash, ...rest] = decodeURIComponent(c.value).split("|");
    assert.equal(rest.length, 0, "cookie value is token|hash");
    assert.equal(cookieToken, token, "cookie carries the same token");
    assert.match(hash, HEX64);
    assert.ok(c.value.includes("%7C"), "the | is percent-encoded on the wire");
    if (ctx.secret) {
      assert.equal(hash, createHash("sha256").update(`${token}${ctx.secret}`).digest("hex"), "hash = sha256(token + secret)");
    }
    // A valid csrf cookie is reused: same token, no new csrf cookie.
    const again = await client.getCsrfToken();
    assert.equal(again, token, "second getCsrfToken() returns the same token");
    const e2 = exchange("csrf", "GET");
    assert.ok(!e2.setCookies.some((h) => h.startsWith(`${profile.cookies.csrf}=`)), "csrf cookie not re-issued while valid");
  });

  test(`[${profile.label}] getProviders() lists the credentials provider`, async () => {
    const providers = await client.getProviders();
    assert.deepEqual(providers?.credentials, {
      id: "credentials",
      name: "Credentials",
      type: "credentials",
      signinUrl: `${ctx.base}/signin/credentials`,
      callbackUrl: `${ctx.base}/callback/credentials`,
    });
    const e = exchange("providers", "GET");
    assert.equal(e.status, 200);
    assert.deepEqual(e.setCookies, [], "GET /providers sets no cookies");
  });

  test(`[${profile.label}] getSession() is null before sign-in`, async () => {
    assert.equal(await client.getSession(), null);
    const e = exchange("session", "GET");
    assert.equal(e.status, 200, "no session is still 200");
    assert.equal(e.responseBody, profile.noSessionWire, "raw no-session body");
    assertNoCacheHeaders(e);
    assert.equal(cookie(profile.cookies.session), undefined);
  });

  test(`[${profile.label}] signIn(credentials) with a wrong password fails`, async () => {
    const result = await client.signIn("credentials", { username: "alice", password: "wrong", redirect: false });
    assert.deepEqual(result, profile.wrongPassword(ctx));
    const e = exchange("callback/credentials", "POST");
    assert.equal(e.requestHeaders["content-type"], "application/x-www-form-urlencoded");
    const form = Object.fromEntries(new URLSearchParams(e.requestBody));
    assert.deepEqual(form, { username: "alice", password: "wrong", csrfToken: state.csrfToken, callbackUrl: pageUrl, ...profile.signInForm });
    assert.deepEqual(JSON.parse(e.responseBody), { url: profile.wrongPasswordUrl(ctx) }, "wire {url}");
    assert.equal(cookie(profile.cookies.session), undefined, "no session cookie");
    assert.ok(!e.setCookies.some((h) => h.startsWith(profile.cookies.session)), "no session Set-Cookie");
  });

  test(`[${profile.label}] signIn(credentials) with the right password sets the session cookie`, async () => {
    const result = await client.signIn("credentials", { username: "alice", password: "wonderland", redirect: false });
    assert.deepEqual(result, profile.signInOk(ctx));
    const e = exchange("callback/credentials", "POST");
    assert.deepEqual(JSON.parse(e.responseBody), { url: pageUrl }, "wire {url} is the callbackUrl");
    const c = cookie(profile.cookies.session);
    assert.ok(c, `jar has ${profile.cookies.session}; jar: ${jar.names(pageUrl)}`);
    assertCookieAttrs(c, { persistent: true });
    if (ctx.database) {
      // Database sessions (portcullis): 256 random bits as hex; the store keeps only a hash.
      assert.match(c.value, /^[0-9a-f]{64}$/, "database session token");
      return;
    }
    const { parts, header } = parseCompact(c.value);
    assert.equal(parts[1], "", "dir JWE: empty encrypted-key segment");
    assert.equal(header.alg, "dir");
    assert.equal(header.enc, profile.jwe.enc);
    assert.equal(typeof header.kid === "string", profile.jwe.kid, "kid presence");
    if (ctx.secret && !ctx.database) {
      const claims = await decodeJar();
      assert.equal(claims.name, "Alice");
      assert.equal(claims.email, "alice@example.com");
      assert.equal(claims.sub, "1");
      assert.equal(claims.id, "1");
      assert.equal(claims.role, "admin");
      assert.match(claims.access_token, /^at-/, "the access token lives in the JWT");
      assert.equal(claims.exp - claims.iat, SESSION_MAX_AGE_MS / 1000, "exp = iat + 30 days");
      state.accessToken = claims.access_token;
    }
  });

  test(`[${profile.label}] getSession() returns the user with id and role, never the access token`, async () => {
    const session = await client.getSession();
    assertSessionJson(session, "Alice");
    const e = exchange("session", "GET");
    assert.equal(e.status, 200);
    assertNoCacheHeaders(e);
    assert.deepEqual(JSON.parse(e.responseBody), session, "client returns the wire JSON unchanged");
    assert.ok(e.setCookies.some((h) => h.startsWith(`${profile.cookies.session}=`)), "GET /session re-issues the session cookie (sliding expiry)");
    state.session = session;
  });

  test(`[${profile.label}] useSession().update({name}) posts {csrfToken, data} and changes only the name`, async () => {
    const { update } = captureUseSession(client, state.session);
    const before = exchanges.length;
    const updated = await update({ name: "Alice Liddell" });
    const post = exchanges.slice(before).find((x) => x.method === "POST" && new URL(x.url).pathname === authPath("session"));
    assert.ok(post, "update() POSTed to /session");
    assert.equal(post.requestHeaders["content-type"], "application/json");
    assert.deepEqual(JSON.parse(post.requestBody), { csrfToken: state.csrfToken, data: { name: "Alice Liddell" } });
    assert.equal(post.status, 200);
    assertSessionJson(updated, "Alice Liddell");
    assert.ok(post.setCookies.some((h) => h.startsWith(`${profile.cookies.session}=`)), "update re-issues the session cookie");
    assertSessionJson(await client.getSession(), "Alice Liddell");

    // The jwt callback copies only `name`: role and id must not be writable from the client.
    const again = await update({ role: "superuser", id: "2" });
    assertSessionJson(again, "Alice Liddell");
    assertSessionJson(await client.getSession(), "Alice Liddell");
    if (ctx.secret && !ctx.database) {
      const claims = await decodeJar();
      assert.equal(claims.role, "admin");
      assert.equal(claims.id, "1");
      assert.equal(claims.name, "Alice Liddell");
      assert.equal(claims.access_token, state.accessToken, "access token survives updates");
    }
    state.session = again;
  });

  test(`[${profile.label}] POST /session without a valid csrfToken is rejected with 400`, async () => {
    for (const body of [{ data: { name: "Mallory" } }, { csrfToken: randomBytes(32).toString("hex"), data: { name: "Mallory" } }]) {
      const res = await rawSessionPost(body);
      assert.equal(res.status, 400, `status for ${JSON.stringify(Object.keys(body))}`);
      assert.equal(await res.text(), profile.failedUpdateWire, "raw body");
      assert.ok(cookie(profile.cookies.session), "a rejected update does not sign the user out");
    }
    assertSessionJson(await client.getSession(), "Alice Liddell");
  });

  test(`[${profile.label}] example app: /api/protected and /api/token while signed in`, { skip: !ctx.example && "needs --example" }, async () => {
    const res = await fetch(`${ctx.origin}/api/protected`);
    assert.equal(res.status, 200);
    const body = await res.json();
    const session = body?.session ?? body;
    assert.equal(session?.user?.email, "alice@example.com", `protected body: ${JSON.stringify(body)}`);
    assert.equal(session?.user?.id, "1");
    assert.equal(session?.user?.role, "admin");
    assert.ok(!/access_?token/i.test(JSON.stringify(body)), "no access token in /api/protected");

    const tokRes = await fetch(`${ctx.origin}/api/token`);
    assert.equal(tokRes.status, 200);
    const token = await tokRes.json();
    const claims = token?.token ?? token;
    assert.match(String(claims?.access_token), /^at-/, `token body: ${JSON.stringify(token)}`);
    assert.equal(claims.sub, "1");
    if (state.accessToken) assert.equal(claims.access_token, state.accessToken, "same access token as in the cookie");
  });

  test(`[${profile.label}] signOut({redirect:false}) clears the session`, async () => {
    const result = await client.signOut({ redirect: false });
    assert.deepEqual(result, { url: pageUrl });
    const e = exchange("signout", "POST");
    assert.deepEqual(Object.fromEntries(new URLSearchParams(e.requestBody)), { csrfToken: state.csrfToken, callbackUrl: pageUrl, ...profile.signOutForm });
    const cleared = e.setCookies.map((h) => h.split(";")[0]).filter((h) => h.startsWith(`${profile.cookies.session}=`));
    assert.deepEqual(cleared, [`${profile.cookies.session}=`], "session cookie cleared with an empty value");
    assert.ok(e.setCookies.some((h) => h.startsWith(`${profile.cookies.session}=;`) && /;\s*Max-Age=0/i.test(h)), "cleared with Max-Age=0");
    assert.equal(cookie(profile.cookies.session), undefined, "session cookie gone from the jar");
    assert.equal(await client.getSession(), null);
    assert.equal(exchange("session", "GET").responseBody, profile.noSessionWire);
  });

  test(`[${profile.label}] example app: /api/protected and /api/token after sign-out`, { skip: !ctx.example && "needs --example" }, async () => {
    assert.equal((await fetch(`${ctx.origin}/api/protected`)).status, 401);
    assert.equal((await fetch(`${ctx.origin}/api/token`)).status, 401);
  });

  // portcullis extension (not Auth.js): database sessions are listed and revoked server-side.
  test(`[${profile.label}] database sessions are listed and revoked on the server`, { skip: !ctx.database && "needs --database" }, async () => {
    const ok = await client.signIn("credentials", { username: "alice", password: "wonderland", redirect: false });
    assert.equal(ok.error ?? null, null, JSON.stringify(ok));
    const c = cookie(profile.cookies.session);
    assert.ok(c, "signed in again");
    const raw = c.raw;
    const list = await fetch(authPath("sessions"));
    assert.equal(list.status, 200);
    const sessions = await list.json();
    assert.equal(sessions.filter((x) => x.current).length, 1, JSON.stringify(sessions));
    assert.ok(!JSON.stringify(sessions).includes(c.value), "the token itself is never listed");
    const post = (path, body) =>
      fetch(authPath(path), { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    assert.equal((await post("sessions/revoke-all", {})).status, 403, "revoking needs the CSRF token");
    assert.ok(await client.getSession(), "still signed in after a refused revoke");
    const res = await post("sessions/revoke-all", { csrfToken: await client.getCsrfToken() });
    assert.equal(res.status, 200);
    assert.ok((await res.json()).revoked >= 1);
    assert.equal(await client.getSession(), null);
    // Replaying the revoked cookie: the row is gone on the server.
    jar.apply(pageUrl, [raw]);
    assert.ok(cookie(profile.cookies.session), "old cookie put back");
    assert.equal(await client.getSession(), null);
    assert.equal(exchange("session", "GET").responseBody, profile.noSessionWire);
  });
}
