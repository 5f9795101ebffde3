#!/usr/bin/env node
// Drives the official next-auth 5.0.0-beta.32 browser client (`next-auth/react`) against a
// running Auth.js-compatible server.
//
//   node client-v5.mjs --base http://127.0.0.1:PORT/api/auth [--example] [--database] [--secret S]
//
// --example  also check the example app's /api/protected and /api/token routes
// --database the server keeps database sessions (the cookie is an opaque 64-hex token)
// --secret   the server's AUTH_SECRET: also verify the csrf hash and decrypt the session
//            cookie with @auth/core (salt = cookie name)
// AUTH_BASE / AUTH_EXAMPLE=1 / AUTH_SECRET_FOR_CLIENT work as env alternatives.

import { decode } from "@auth/core/jwt";
import { runClientSuite } from "./lib/suite.mjs";

await runClientSuite({
  label: "next-auth 5.0.0-beta.32",
  importClient: () => import("next-auth/react"),
  cookies: { csrf: "authjs.csrf-token", session: "authjs.session-token", callbackUrl: "authjs.callback-url" },
  noSessionWire: "null",
  failedUpdateWire: "null",
  // Errors come back as 200 {url: <signin page with ?error&code>} because the client sends
  // X-Auth-Return-Redirect; the client turns that into error/code and url: null.
  wrongPassword: () => ({ error: "CredentialsSignin", code: "credentials", status: 200, ok: true, url: null }),
  wrongPasswordUrl: ({ base }) => `${base}/signin?error=CredentialsSignin&code=credentials`,
  signInOk: ({ pageUrl }) => ({ error: undefined, code: undefined, status: 200, ok: true, url: pageUrl }),
  signInForm: {},
  signOutForm: {},
  jwe: { enc: "A256CBC-HS512", kid: true },
  decodeSessionToken: (token, secret, cookieName) => decode({ token, secret, salt: cookieName }),
});
