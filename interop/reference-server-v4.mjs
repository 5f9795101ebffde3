#!/usr/bin/env node
// Reference next-auth v4 (4.24.15) server, configured like the portcullis example app.
// Env: AUTH_SECRET (required), PORT (0 = pick a free port).
// Prints "reference-v4 listening on http://127.0.0.1:PORT/api/auth" once ready.
//
// next-auth 4.24.15 does not export `next-auth/core`; its public server entry is the Next.js
// handler `NextAuth(req, res, options)` (pages-router API route), which wraps the core
// `AuthHandler` and implements the `json=true` -> `{url}` behaviour. We call exactly that,
// giving it a node:http req/res dressed up with the few Next.js API helpers it uses
// (req.query incl. the `nextauth` catch-all segments, req.body, req.cookies, res.status/json/send).
// NEXTAUTH_URL is set to the bound address, as a v4 deployment would configure it.

import http from "node:http";
import NextAuthModule from "next-auth-v4";
import CredentialsModule from "next-auth-v4/providers/credentials";
import { getToken } from "next-auth-v4/jwt";
import * as example from "./lib/example-config.mjs";

const NextAuth = NextAuthModule.default ?? NextAuthModule;
const Credentials = CredentialsModule.default ?? CredentialsModule;
const secret = example.requireSecret();

export const options = {
  secret,
  providers: [
    Credentials({
      id: "credentials",
      name: "Credentials",
      credentials: example.CREDENTIAL_FIELDS,
      authorize: example.authorize,
    }),
  ],
  session: { strategy: "jwt" },
  callbacks: { jwt: example.jwt, session: example.session },
  logger: {
    error: (code, meta) => console.error("[next-auth][error]", code, meta?.message ?? ""),
    warn: (code) => console.error("[next-auth][warn]", code),
    debug: () => {},
  },
};

function parseCookies(header = "") {
  const out = {};
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i < 1) continue;
    const name = part.slice(0, i).trim();
    if (name in out) continue;
    const raw = part.slice(i + 1).trim();
    try {
      out[name] = decodeURIComponent(raw);
    } catch {
      out[name] = raw;
    }
  }
  return out;
}

/** Next.js' API body parser: JSON and urlencoded become objects, anything else a string. */
async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const text = Buffer.concat(chunks).toString("utf8");
  const type = req.headers["content-type"] ?? "";
  if (!text) return undefined;
  if (type.includes("application/json")) return JSON.parse(text);
  if (type.includes("application/x-www-form-urlencoded")) return Object.fromEntries(new URLSearchParams(text));
  return text;
}

function addNextApiHelpers(res) {
  res.status = (code) => {
    res.statusCode = code;
    return res;
  };
  res.json = (value) => {
    res.setHeader("Content-Type", "application/json; charset=utf-8");
    res.end(JSON.stringify(value));
  };
  res.send = (body) => {
    if (body === undefined || body === null) return res.end();
    if (typeof body === "string" || Buffer.isBuffer(body)) return res.end(body);
    if (!res.getHeader("Content-Type")) res.setHeader("Content-Type", "application/json; charset=utf-8");
    res.end(JSON.stringify(body));
  };
  return res;
}

function json(res, status, value) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(value));
}

async function handle(req, res) {
  const url = new URL(req.url, process.env.NEXTAUTH_URL);
  const prefix = `${example.BASE_PATH}/`;
  req.cookies = parseCookies(req.headers.cookie);
  if (url.pathname.startsWith(prefix)) {
    const segments = url.pathname.slice(prefix.length).split("/").filter(Boolean);
    req.query = { ...Object.fromEntries(url.searchParams), nextauth: segments };
    req.body = req.method === "POST" ? await readBody(req) : undefined;
    return NextAuth(req, addNextApiHelpers(res), options);
  }
  if (url.pathname === "/api/token" && req.method === "GET") {
    const token = await getToken({ req, secret });
    return token ? json(res, 200, token) : json(res, 401, { error: "Unauthorized" });
  }
  if (url.pathname === "/api/protected" && req.method === "GET") {
    // getServerSession() would need next/headers; the session route with the same cookies
    // gives the same answer.
    const r = await fetch(`${process.env.NEXTAUTH_URL}/session`, { headers: { cookie: req.headers.cookie ?? "" } });
    const session = await r.json();
    return session?.user ? json(res, 200, { session }) : json(res, 401, { error: "Unauthorized" });
  }
  json(res, 404, { error: "Not found" });
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((e) => {
    console.error("[server] unhandled", e);
    if (!res.headersSent) json(res, 500, { error: "internal" });
    else res.end();
  });
});
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  process.env.NEXTAUTH_URL = `http://127.0.0.1:${server.address().port}${example.BASE_PATH}`;
  example.announce(server, "reference-v4");
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => server.close(() => process.exit(0)));
