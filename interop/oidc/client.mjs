#!/usr/bin/env node
// The official next-auth 5.0.0-beta.32 browser client (`next-auth/react`, from
// interop/node_modules) against a server with the `oidc` provider: getProviders() lists it,
// and signIn("oidc", {}, {login_hint}) sends the browser to the provider's authorization
// endpoint with every check and the client's authorization parameter.
//
//   node client.mjs --base http://127.0.0.1:PORT/api/auth --issuer http://127.0.0.1:N
//
// Prints `# pass …` / `# fail …` lines and `ok N checks`; exits non-zero on a failure.

import { parseArgs } from "node:util";
import { installBrowser } from "../lib/browser.mjs";

const { values } = parseArgs({ options: { base: { type: "string" }, issuer: { type: "string" } } });
if (!values.base || !values.issuer) {
  console.error("usage: node client.mjs --base http://127.0.0.1:PORT/api/auth --issuer http://127.0.0.1:N");
  process.exit(2);
}
const base = values.base.replace(/\/$/, "");
const browser = installBrowser({ base });
const client = await import("next-auth/react");

let passed = 0;
let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`# pass ${name}`);
  } catch (e) {
    failed += 1;
    console.log(`# fail ${name}: ${e?.message ?? e}`);
  }
}
function expect(cond, why) {
  if (!cond) throw new Error(why);
}

await check("getProviders() lists the oidc provider", async () => {
  const providers = await client.getProviders();
  const p = providers?.oidc;
  expect(p, `no oidc provider in ${JSON.stringify(providers)}`);
  const want = { id: "oidc", type: "oidc", signinUrl: `${base}/signin/oidc`, callbackUrl: `${base}/callback/oidc` };
  for (const [k, v] of Object.entries(want)) expect(p[k] === v, `${k}: ${JSON.stringify(p[k])}, want ${JSON.stringify(v)}`);
  expect(typeof p.name === "string" && p.name.length > 0, "a display name");
});

await check('signIn("oidc") goes to the provider with PKCE, state, nonce and the client\'s parameters', async () => {
  await client.signIn("oidc", {}, { login_hint: "alice", state: "attacker-chosen" });
  const to = browser.navigations.at(-1);
  expect(to, "no navigation");
  const url = new URL(to);
  const discovery = await (await fetch(`${values.issuer}/.well-known/openid-configuration`)).json();
  expect(`${url.origin}${url.pathname}` === discovery.authorization_endpoint, `navigated to ${url.origin}${url.pathname}`);
  const q = url.searchParams;
  const once = (k) => q.getAll(k).length === 1;
  for (const k of ["response_type", "client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method", "nonce", "scope", "login_hint"]) {
    expect(once(k), `${k} appears ${q.getAll(k).length} times`);
  }
  expect(q.get("response_type") === "code", "response_type=code");
  expect(q.get("redirect_uri") === `${base}/callback/oidc`, `redirect_uri ${q.get("redirect_uri")}`);
  expect(q.get("code_challenge_method") === "S256" && /^[A-Za-z0-9_-]{43}$/.test(q.get("code_challenge")), "PKCE S256");
  expect(q.get("state") !== "attacker-chosen" && q.get("state").length >= 43, "state is the server's, not the client's");
  expect(q.get("login_hint") === "alice", "the client's authorization parameter is passed on");
  expect(browser.jar.get(`${base}/callback/oidc`, "authjs.oauth-check"), "the check cookie is set");
});

console.log(failed === 0 ? `ok ${passed} checks` : `not ok: ${failed} of ${passed + failed} failed`);
process.exit(failed === 0 ? 0 : 1);
