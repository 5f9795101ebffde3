#!/usr/bin/env node
// Writes fixtures/authjs-tokens.json: session tokens made by @auth/core 0.41.3 and
// next-auth 4.24.15 for fixed secrets, with what the libraries decode them to, plus the
// PROTOCOL.md §4.1 key/kid vectors. Rust tests read the file without Node (TOK-19, KEY-01/02).
//
// Every token gets maxAge = 10 years so the vectors stay valid. Each entry is checked before
// it is written: the library decodes it with `secrets`, our independent node:crypto
// decryption agrees, and every combination listed in `rejectedBy` really fails.
//
//   node make-fixtures.mjs [--out fixtures/authjs-tokens.json]
//   node make-fixtures.mjs --check     verify the committed file against the installed libraries

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import assert from "node:assert/strict";
import * as jwt5 from "@auth/core/jwt";
import jwt4Module from "next-auth-v4/jwt";
import { decryptCompact, deriveV4, deriveV5, parseCompact } from "./lib/keys.mjs";

const jwt4 = jwt4Module.default ?? jwt4Module;
const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { out: { type: "string" }, check: { type: "boolean", default: false } } });
const out = values.out ?? join(here, "fixtures", "authjs-tokens.json");

const SECRET = "test-secret-1234567890";
const ROTATED = "rotated-secret-0987654321";
const SALT = "authjs.session-token";
const SECURE_SALT = "__Secure-authjs.session-token";
const TEN_YEARS = 10 * 365 * 24 * 60 * 60;
const CLAIMS = {
  name: "Alice",
  email: "alice@example.com",
  picture: "https://img.example/a.png",
  sub: "1",
  role: "admin",
  id: "1",
  access_token: "at-123",
};

const pkgVersion = (name) => JSON.parse(readFileSync(join(here, "node_modules", name, "package.json"), "utf8")).version;

async function rejects(fn) {
  try {
    const r = await fn();
    return r === null || r === undefined;
  } catch {
    return true;
  }
}

async function v5Entry({ id, description, encoder, secrets, salt, rejectedBy }) {
  const secretArg = (s) => (s.length === 1 ? s[0] : s);
  // Encoding with [encoder, ...] uses the first secret, as @auth/core does.
  const token = await jwt5.encode({ token: CLAIMS, secret: encoder, salt, maxAge: TEN_YEARS });
  const claims = await jwt5.decode({ token, secret: secretArg(secrets), salt });
  const { header, payload } = decryptCompact(token, deriveV5(encoder, salt).key);
  assert.deepEqual(payload, claims, `${id}: independent decryption agrees with @auth/core`);
  assert.equal(header.kid, deriveV5(encoder, salt).kid, `${id}: kid is the encoder's thumbprint`);
  for (const r of rejectedBy) {
    assert.ok(await rejects(() => jwt5.decode({ token, secret: secretArg(r.secrets), salt: r.salt })), `${id}: must be rejected by ${JSON.stringify(r)}`);
  }
  return { id, description, format: "v5", secrets, salt, encoder, header, token, claims, rejectedBy };
}

async function v4Entry({ id, description }) {
  const token = await jwt4.encode({ token: CLAIMS, secret: SECRET, maxAge: TEN_YEARS });
  const claims = await jwt4.decode({ token, secret: SECRET });
  const { header, payload } = decryptCompact(token, deriveV4(SECRET).key);
  assert.deepEqual(payload, claims, `${id}: independent decryption agrees with next-auth v4`);
  assert.ok(await rejects(() => jwt4.decode({ token, secret: ROTATED })), `${id}: wrong secret rejected`);
  assert.ok(await rejects(() => jwt5.decode({ token, secret: SECRET, salt: SALT })), `${id}: @auth/core rejects v4 token`);
  return {
    id,
    description,
    format: "v4",
    secrets: [SECRET],
    salt: "",
    encoder: SECRET,
    header,
    token,
    claims,
    rejectedBy: [{ secrets: [ROTATED], salt: "" }, { secrets: [SECRET], salt: SALT, as: "v5" }],
  };
}

if (values.check) {
  await check(JSON.parse(readFileSync(out, "utf8")));
  process.exit(0);
}

/** Re-verify a committed fixtures file: every token decodes to its claims, every rejection holds. */
async function check(doc) {
  const decoders = {
    v5: (t, secrets, salt) => jwt5.decode({ token: t, secret: secrets.length === 1 ? secrets[0] : secrets, salt }),
    v4: (t, secrets) => jwt4.decode({ token: t, secret: secrets[0] }),
  };
  let passed = 0;
  for (const t of doc.tokens) {
    assert.deepEqual(await decoders[t.format](t.token, t.secrets, t.salt), t.claims, `${t.id}: decodes to its claims`);
    assert.ok(t.claims.exp * 1000 > Date.now(), `${t.id}: still valid`);
    for (const r of t.rejectedBy) {
      assert.ok(await rejects(() => decoders[r.as ?? t.format](t.token, r.secrets, r.salt)), `${t.id}: rejected by ${JSON.stringify(r)}`);
    }
    passed++;
  }
  for (const k of doc.keys) {
    const d = k.format === "v5" ? deriveV5(k.secret, k.salt) : deriveV4(k.secret, k.salt);
    assert.equal(d.key.toString("hex"), k.key, `key for ${k.secret}/${k.salt}`);
    if (k.kid) assert.equal(d.kid, k.kid, `kid for ${k.secret}/${k.salt}`);
    passed++;
  }
  console.log(`fixtures check: ${passed} passed, 0 failed`);
}

const tokens = [
  await v5Entry({
    id: "v5-plain",
    description: "http cookie name as salt",
    encoder: SECRET,
    secrets: [SECRET],
    salt: SALT,
    rejectedBy: [
      { secrets: [SECRET], salt: SECURE_SALT },
      { secrets: [ROTATED], salt: SALT },
    ],
  }),
  await v5Entry({
    id: "v5-secure",
    description: "https (__Secure-) cookie name as salt",
    encoder: SECRET,
    secrets: [SECRET],
    salt: SECURE_SALT,
    rejectedBy: [{ secrets: [SECRET], salt: SALT }],
  }),
  await v5Entry({
    id: "v5-rotated-encoder",
    description: "encoded with secrets [rotated, original]: the first (rotated) secret encodes; the original alone cannot decode it",
    encoder: ROTATED,
    secrets: [ROTATED, SECRET],
    salt: SALT,
    rejectedBy: [{ secrets: [SECRET], salt: SALT }],
  }),
  await v5Entry({
    id: "v5-old-token-after-rotation",
    description: "encoded with the original secret, still accepted once the secrets are [rotated, original] (KEY-01)",
    encoder: SECRET,
    secrets: [ROTATED, SECRET],
    salt: SALT,
    rejectedBy: [{ secrets: [ROTATED], salt: SALT }],
  }),
  await v4Entry({ id: "v4", description: "next-auth 4.24.15 session token (no salt, A256GCM, no kid)" }),
];

for (const t of tokens) {
  assert.equal(parseCompact(t.token).parts.length, 5);
  assert.equal(t.claims.exp - t.claims.iat, TEN_YEARS, `${t.id}: maxAge`);
}

const keys = [
  ...[SALT, SECURE_SALT].flatMap((salt) =>
    [SECRET, ROTATED].map((secret) => {
      const { key, kid } = deriveV5(secret, salt);
      return { format: "v5", secret, salt, info: `Auth.js Generated Encryption Key (${salt})`, key: key.toString("hex"), kid };
    }),
  ),
  { format: "v4", secret: SECRET, salt: "", info: "NextAuth.js Generated Encryption Key", key: deriveV4(SECRET).key.toString("hex") },
];

// The PROTOCOL.md §4.1 values must come out of the derivation unchanged.
const protocol = {
  [SALT]: "f2Hr8XO-aSyRYC7TOHoDiUu6krd7SHAYlrNvmlJUQ58UnBgQCwYcU8aGin0ohmSMqAsVqKU1dRkB78--3UXBZQ",
  [SECURE_SALT]: "kBpet74Qg2e_CTonAqzFjcFhOKo7vmUtVH7xZol9pxajech9okFce2Kg0okW12bnmd9l0l3hAKGfA14huxxKyg",
};
for (const [salt, kid] of Object.entries(protocol)) {
  assert.equal(keys.find((k) => k.secret === SECRET && k.salt === salt).kid, kid, `PROTOCOL §4.1 kid for ${salt}`);
}
assert.equal(keys.at(-1).key, "91fa1cdc908d3a22121e0ce97bf52a127715fc151ae3cbd86c2009fcfac642c7", "PROTOCOL §4.1 v4 key");

const doc = {
  description:
    "Auth.js session-token compatibility vectors. v5 tokens: @auth/core encode({token: claimsInput, secret: encoder, salt, maxAge}); decode with `secrets` (in order) and `salt` yields `claims`. v4: next-auth/jwt encode({token, secret, maxAge}), no salt. `rejectedBy` lists secret/salt combinations the library refuses (an entry with `as: \"v5\"` means decoding with @auth/core instead of the entry's own format). Regenerate with `node make-fixtures.mjs`.",
  generator: {
    "@auth/core": pkgVersion("@auth/core"),
    "next-auth-v4": pkgVersion("next-auth-v4"),
    node: process.version,
    generatedAt: new Date().toISOString(),
  },
  maxAge: TEN_YEARS,
  claimsInput: CLAIMS,
  keys,
  tokens,
};

mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(doc, null, 2)}\n`);
console.log(`wrote ${out}: ${tokens.length} tokens, ${keys.length} key vectors`);
