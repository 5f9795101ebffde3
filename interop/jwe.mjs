#!/usr/bin/env node
// Session-token codec CLI for the Rust interop tests. Output on stdout, one line.
//
//   node jwe.mjs encode5 --secret S [--secret S2 ...] --salt SALT --claims JSON [--max-age N]
//   node jwe.mjs decode5 --secret S [--secret S2 ...] --salt SALT --token T
//   node jwe.mjs encode4 --secret S --claims JSON [--max-age N]
//   node jwe.mjs decode4 --secret S --token T
//   node jwe.mjs derive5 --secret S --salt SALT      -> {"key":"<hex>","kid":"<base64url>"}
//   node jwe.mjs derive4 --secret S [--salt SALT]    -> {"key":"<hex>"}
//   node jwe.mjs selftest                            -> checks against PROTOCOL.md §4.1
//
// encode5/decode5 use @auth/core 0.41.3 `@auth/core/jwt`; encode4/decode4 use next-auth
// 4.24.15 `next-auth/jwt` (installed as next-auth-v4). derive* is computed independently with
// node:crypto. Exit codes: 0 ok, 2 usage error, 3 decode failed (stdout "null"), 1 other.

import { parseArgs } from "node:util";
import assert from "node:assert/strict";
import * as jwt5 from "@auth/core/jwt";
import jwt4Module from "next-auth-v4/jwt";
import { decryptCompact, deriveV4, deriveV5, parseCompact } from "./lib/keys.mjs";

const jwt4 = jwt4Module.default ?? jwt4Module;

class UsageError extends Error {}

// The self-test provokes decode failures on purpose; it silences their diagnostics.
let quiet = false;
const note = (msg) => quiet || process.stderr.write(`${msg}\n`);

function options(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      secret: { type: "string", multiple: true },
      salt: { type: "string" },
      claims: { type: "string" },
      token: { type: "string" },
      "max-age": { type: "string" },
    },
  });
  return { ...values, positionals };
}

function need(o, name) {
  const v = o[name];
  if (v === undefined || (Array.isArray(v) && v.length === 0)) throw new UsageError(`--${name} is required`);
  return v;
}

function secretArg(o) {
  const s = need(o, "secret");
  return s.length === 1 ? s[0] : s;
}

function singleSecret(o) {
  const s = need(o, "secret");
  if (s.length !== 1) throw new UsageError("next-auth v4 takes exactly one --secret");
  return s[0];
}

function claimsArg(o) {
  try {
    const c = JSON.parse(need(o, "claims"));
    if (c === null || typeof c !== "object" || Array.isArray(c)) throw new Error("not an object");
    return c;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`--claims must be a JSON object: ${e.message}`);
  }
}

function maxAgeArg(o) {
  if (o["max-age"] === undefined) return undefined;
  const n = Number(o["max-age"]);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError("--max-age must be a positive integer (seconds)");
  return n;
}

const hex = (buf) => Buffer.from(buf).toString("hex");

export const commands = {
  async encode5(o) {
    return jwt5.encode({ token: claimsArg(o), secret: secretArg(o), salt: need(o, "salt"), maxAge: maxAgeArg(o) });
  },
  async decode5(o) {
    const token = need(o, "token");
    const salt = need(o, "salt");
    const secret = secretArg(o);
    let claims = null;
    try {
      claims = await jwt5.decode({ token, secret, salt });
    } catch (e) {
      note(`decode5: ${e?.message ?? e}`);
    }
    if (!claims) throw Object.assign(new Error("decode failed"), { decodeFailed: true });
    return JSON.stringify(claims);
  },
  async encode4(o) {
    return jwt4.encode({ token: claimsArg(o), secret: singleSecret(o), maxAge: maxAgeArg(o) });
  },
  async decode4(o) {
    const token = need(o, "token");
    const secret = singleSecret(o);
    let claims = null;
    try {
      claims = await jwt4.decode({ token, secret });
    } catch (e) {
      note(`decode4: ${e?.message ?? e}`);
    }
    if (!claims) throw Object.assign(new Error("decode failed"), { decodeFailed: true });
    return JSON.stringify(claims);
  },
  async derive5(o) {
    const { key, kid } = deriveV5(singleSecret(o), need(o, "salt"));
    return JSON.stringify({ key: hex(key), kid });
  },
  async derive4(o) {
    const { key } = deriveV4(singleSecret(o), o.salt ?? "");
    return JSON.stringify({ key: hex(key) });
  },
  async selftest() {
    quiet = true;
    const checks = await selfTest();
    return `selftest: ${checks} passed, 0 failed`;
  },
};

/** PROTOCOL.md §4.1 test vectors. */
export const PROTOCOL_VECTORS = {
  secret: "test-secret-1234567890",
  v5: [
    {
      salt: "authjs.session-token",
      key: "9ceb9244d94fbfed3bca5ead69b3d429f45e0ab5d5ace804b2bfa9bbd4d30a1d1c8476522c922e6e87e6113265b3ee832484df18f9a78f272d9956a258d98ac6",
      kid: "f2Hr8XO-aSyRYC7TOHoDiUu6krd7SHAYlrNvmlJUQ58UnBgQCwYcU8aGin0ohmSMqAsVqKU1dRkB78--3UXBZQ",
    },
    {
      salt: "__Secure-authjs.session-token",
      key: "b983ea99f911148063f65d3890a7fa145df3b996683ecfd6f658d2a52038d20393000cb6517ac8e73584fdf1f1cba67e036efe6be917bbacbd29bb497edd2aa5",
      kid: "kBpet74Qg2e_CTonAqzFjcFhOKo7vmUtVH7xZol9pxajech9okFce2Kg0okW12bnmd9l0l3hAKGfA14huxxKyg",
    },
  ],
  v4: { salt: "", key: "91fa1cdc908d3a22121e0ce97bf52a127715fc151ae3cbd86c2009fcfac642c7" },
};

async function run(cmd, args) {
  return commands[cmd](options(args));
}

/** Cross-checks: vectors, independent decryption of library tokens, rotation, v4 format. */
async function selfTest() {
  let n = 0;
  const ok = (cond, msg) => {
    assert.ok(cond, msg);
    n++;
  };
  const eq = (a, b, msg) => {
    assert.deepEqual(a, b, msg);
    n++;
  };
  const { secret } = PROTOCOL_VECTORS;
  const claims = { name: "Alice", email: "alice@example.com", sub: "1", role: "admin" };

  for (const v of PROTOCOL_VECTORS.v5) {
    const derived = JSON.parse(await run("derive5", ["--secret", secret, "--salt", v.salt]));
    eq(derived, { key: v.key, kid: v.kid }, `derive5 vector for salt ${v.salt}`);

    const token = await run("encode5", ["--secret", secret, "--salt", v.salt, "--claims", JSON.stringify(claims)]);
    const { header } = parseCompact(token);
    eq(header, { alg: "dir", enc: "A256CBC-HS512", kid: v.kid }, "@auth/core header carries the derived kid");
    ok(token.split(".")[1] === "", "dir JWE has an empty encrypted-key segment");

    const { payload } = decryptCompact(token, Buffer.from(v.key, "hex"));
    eq({ ...payload, iat: 0, exp: 0, jti: "" }, { ...claims, iat: 0, exp: 0, jti: "" }, "independent decrypt of @auth/core token");
    ok(payload.exp - payload.iat === 30 * 24 * 3600, "default maxAge is 30 days");
    ok(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(payload.jti), "jti is a UUID v4");

    const decoded = JSON.parse(await run("decode5", ["--secret", secret, "--salt", v.salt, "--token", token]));
    eq(decoded, payload, "decode5 round-trip");
  }

  // Salt binds the key: the secure-cookie token does not open with the plain cookie name.
  const secureTok = await run("encode5", ["--secret", secret, "--salt", "__Secure-authjs.session-token", "--claims", "{}"]);
  await assert.rejects(run("decode5", ["--secret", secret, "--salt", "authjs.session-token", "--token", secureTok]));
  n++;

  // Rotation: first secret encodes; [new, old] opens tokens of either; [old] does not open new.
  const rotated = "rotated-secret-0987654321";
  const salt = "authjs.session-token";
  const newTok = await run("encode5", ["--secret", rotated, "--secret", secret, "--salt", salt, "--claims", "{}"]);
  eq(parseCompact(newTok).header.kid, deriveV5(rotated, salt).kid, "first secret encodes");
  const oldTok = await run("encode5", ["--secret", secret, "--salt", salt, "--claims", "{}"]);
  ok(JSON.parse(await run("decode5", ["--secret", rotated, "--secret", secret, "--salt", salt, "--token", oldTok])), "[new, old] opens old");
  ok(JSON.parse(await run("decode5", ["--secret", rotated, "--secret", secret, "--salt", salt, "--token", newTok])), "[new, old] opens new");
  await assert.rejects(run("decode5", ["--secret", secret, "--salt", salt, "--token", newTok]), "old alone must not open new");
  n++;

  // max-age is honoured.
  const short = await run("encode5", ["--secret", secret, "--salt", salt, "--claims", "{}", "--max-age", "60"]);
  const sp = decryptCompact(short, deriveV5(secret, salt).key).payload;
  ok(sp.exp - sp.iat === 60, "--max-age sets exp - iat");

  // v4: vector, header without kid, independent decrypt, round-trip.
  eq(JSON.parse(await run("derive4", ["--secret", secret])), { key: PROTOCOL_VECTORS.v4.key }, "derive4 vector");
  const t4 = await run("encode4", ["--secret", secret, "--claims", JSON.stringify(claims)]);
  eq(parseCompact(t4).header, { alg: "dir", enc: "A256GCM" }, "v4 header");
  const p4 = decryptCompact(t4, Buffer.from(PROTOCOL_VECTORS.v4.key, "hex")).payload;
  eq(JSON.parse(await run("decode4", ["--secret", secret, "--token", t4])), p4, "decode4 round-trip");
  eq(p4.name, "Alice", "v4 payload claims");
  await assert.rejects(run("decode4", ["--secret", rotated, "--token", t4]), "v4 wrong secret fails");
  n++;

  // v4 and v5 tokens are mutually unreadable.
  await assert.rejects(run("decode5", ["--secret", secret, "--salt", salt, "--token", t4]));
  await assert.rejects(run("decode4", ["--secret", secret, "--token", oldTok]));
  n += 2;
  return n;
}

async function main() {
  const [cmd, ...args] = process.argv.slice(2);
  if (!cmd || !Object.hasOwn(commands, cmd)) {
    process.stderr.write(`usage: node jwe.mjs <${Object.keys(commands).join("|")}> [options]\n`);
    process.exit(2);
  }
  try {
    process.stdout.write(`${await run(cmd, args)}\n`);
  } catch (e) {
    if (e?.decodeFailed) {
      process.stdout.write("null\n");
      process.exit(3);
    }
    const usage = e instanceof UsageError || e?.code?.startsWith?.("ERR_PARSE_ARGS");
    process.stderr.write(`jwe.mjs ${cmd}: ${usage ? e.message : (e?.stack ?? e)}\n`);
    process.exit(usage ? 2 : 1);
  }
}

await main();
