#!/usr/bin/env node
// Drives the official next-auth 4.24.15 browser client (`next-auth/react`, installed as the
// alias next-auth-v4) against a running NextAuth v4-compatible server.
//
//   node client-v4.mjs --base http://127.0.0.1:PORT/api/auth [--example] [--database] [--secret S]
//
// --example  also check the example app's /api/protected and /api/token routes
// --database the server keeps database sessions (the cookie is an opaque 64-hex token)
// --secret   the server's secret: also verify the csrf hash and decrypt the session cookie
//            with next-auth v4's jwt decode (no salt)

import jwtModule from "next-auth-v4/jwt";
import { runClientSuite } from "./lib/suite.mjs";

const { decode } = jwtModule.default ?? jwtModule;

await runClientSuite({
  label: "next-auth 4.24.15",
  importClient: async () => {
    const m = await import("next-auth-v4/react");
    return m.default ?? m;
  },
  cookies: { csrf: "next-auth.csrf-token", session: "next-auth.session-token", callbackUrl: "next-auth.callback-url" },
  // v4 answers {} for "no session"; its client maps {} to null.
  noSessionWire: "{}",
  failedUpdateWire: "{}",
  // v4 keeps the handler's 401 on the {url} answer and points at the error page.
  wrongPassword: () => ({ error: "CredentialsSignin", status: 401, ok: false, url: null }),
  wrongPasswordUrl: ({ base }) => `${base}/error?error=CredentialsSignin&provider=credentials`,
  signInOk: ({ pageUrl }) => ({ error: null, status: 200, ok: true, url: pageUrl }),
  // v4 posts every signIn option plus json=true (PROTOCOL.md §1.4).
  signInForm: { redirect: "false", json: "true" },
  signOutForm: { json: "true" },
  jwe: { enc: "A256GCM", kid: false },
  decodeSessionToken: (token, secret) => decode({ token, secret }),
});
