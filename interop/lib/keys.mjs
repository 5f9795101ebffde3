// Independent (node:crypto only) re-implementation of the Auth.js session-token key schedule
// and JWE decryption, used to cross-check what @auth/core and next-auth v4 produce.
// See PROTOCOL.md §4.1 (v5) and §4.2 (v4).

import { createDecipheriv, createHash, createHmac, hkdfSync, timingSafeEqual } from "node:crypto";

export const b64url = (buf) => Buffer.from(buf).toString("base64url");

/** RFC 7638 thumbprint of an `oct` JWK: SHA-256 for 32-byte keys, SHA-512 for 64-byte keys. */
export function octThumbprint(key) {
  const canonical = JSON.stringify({ k: b64url(key), kty: "oct" });
  const alg = key.length === 64 ? "sha512" : key.length === 32 ? "sha256" : null;
  if (!alg) throw new Error(`no thumbprint rule for a ${key.length}-byte key`);
  return createHash(alg).update(canonical).digest("base64url");
}

/** v5 key: HKDF-SHA256(secret, salt, "Auth.js Generated Encryption Key (<salt>)", 64 or 32). */
export function deriveV5(secret, salt, length = 64) {
  const key = Buffer.from(hkdfSync("sha256", secret, salt, `Auth.js Generated Encryption Key (${salt})`, length));
  return { key, kid: octThumbprint(key) };
}

/** v4 key: HKDF-SHA256(secret, salt or "", "NextAuth.js Generated Encryption Key[ (<salt>)]", 32). */
export function deriveV4(secret, salt = "") {
  const info = salt ? `NextAuth.js Generated Encryption Key (${salt})` : "NextAuth.js Generated Encryption Key";
  return { key: Buffer.from(hkdfSync("sha256", secret, salt, info, 32)) };
}

/** Split a compact JWE and parse its protected header. */
export function parseCompact(token) {
  const parts = token.split(".");
  if (parts.length !== 5) throw new Error(`expected 5 JWE segments, got ${parts.length}`);
  const header = JSON.parse(Buffer.from(parts[0], "base64url").toString("utf8"));
  return { parts, header };
}

/**
 * Decrypt a `dir` JWE (A256CBC-HS512 with a 64-byte key, or A256GCM with a 32-byte key)
 * without any JOSE library. Returns the parsed payload; throws if the tag does not verify.
 */
export function decryptCompact(token, key) {
  const { parts, header } = parseCompact(token);
  const [protectedB64, encryptedKey, ivB64, ctB64, tagB64] = parts;
  if (header.alg !== "dir" || encryptedKey !== "") throw new Error("not a dir JWE");
  const aad = Buffer.from(protectedB64, "ascii");
  const iv = Buffer.from(ivB64, "base64url");
  const ct = Buffer.from(ctB64, "base64url");
  const tag = Buffer.from(tagB64, "base64url");
  let plain;
  if (header.enc === "A256CBC-HS512") {
    if (key.length !== 64) throw new Error("A256CBC-HS512 needs a 64-byte key");
    const macKey = key.subarray(0, 32);
    const encKey = key.subarray(32);
    const al = Buffer.alloc(8);
    al.writeBigUInt64BE(BigInt(aad.length * 8));
    const mac = createHmac("sha512", macKey).update(Buffer.concat([aad, iv, ct, al])).digest().subarray(0, 32);
    if (tag.length !== 32 || !timingSafeEqual(mac, tag)) throw new Error("authentication tag mismatch");
    const d = createDecipheriv("aes-256-cbc", encKey, iv);
    plain = Buffer.concat([d.update(ct), d.final()]);
  } else if (header.enc === "A256GCM") {
    if (key.length !== 32) throw new Error("A256GCM needs a 32-byte key");
    const d = createDecipheriv("aes-256-gcm", key, iv);
    d.setAAD(aad);
    d.setAuthTag(tag);
    plain = Buffer.concat([d.update(ct), d.final()]);
  } else {
    throw new Error(`unsupported enc ${header.enc}`);
  }
  return { header, payload: JSON.parse(plain.toString("utf8")) };
}
