// Makes plain Node look enough like a browser tab for the official next-auth clients.
//
// The clients decide "browser or server" with `typeof window`. We run them in browser mode
// (relative `/api/auth/...` URLs, `window.location.href` as the default callbackUrl) because
// that is how they run for real; our fetch resolves relative URLs against the page URL and
// plays the role of the browser's cookie store.
//
// Must be called BEFORE the client module is imported: the clients read NEXTAUTH_URL once,
// at module evaluation.

import { parseArgs } from "node:util";
import { CookieJar, installRecordingFetch } from "./jar.mjs";

export function parseClientArgs(argv = process.argv.slice(2)) {
  const { values } = parseArgs({
    args: argv,
    options: {
      base: { type: "string" },
      example: { type: "boolean", default: false },
      database: { type: "boolean", default: false },
      secret: { type: "string" },
      // node:test passes its own flags through when run via `node --test`; ignore unknowns.
    },
    strict: false,
  });
  const base = (values.base ?? process.env.AUTH_BASE ?? "").replace(/\/$/, "");
  if (!/^https?:\/\/[^/]+\/.+/.test(base)) {
    console.error("usage: node client-vN.mjs --base http://127.0.0.1:PORT/api/auth [--example] [--database] [--secret S]");
    console.error("       (or set AUTH_BASE); --secret lets the client also decrypt the session cookie");
    process.exit(2);
  }
  return {
    base,
    example: values.example === true || process.env.AUTH_EXAMPLE === "1",
    // The server keeps database sessions: the cookie is an opaque token, not a JWE.
    database: values.database === true,
    secret: values.secret ?? process.env.AUTH_SECRET_FOR_CLIENT ?? undefined,
  };
}

/**
 * Install the browser shims and return {jar, exchanges, origin, pageUrl, base}.
 * pageUrl is the "current page" (origin + "/"), which the clients use as callbackUrl.
 */
export function installBrowser({ base }) {
  const baseUrl = new URL(base);
  const origin = baseUrl.origin;
  const page = { href: `${origin}/` };

  process.env.NEXTAUTH_URL = base;

  const noop = () => {};
  const location = {
    get href() {
      return page.href;
    },
    set href(v) {
      // A real browser would navigate; the harness only records the attempt.
      page.href = new URL(v, page.href).href;
      navigations.push(page.href);
    },
    get origin() {
      return origin;
    },
    reload: noop,
  };
  const navigations = [];
  globalThis.window = {
    location,
    addEventListener: noop,
    removeEventListener: noop,
  };
  globalThis.document = {
    visibilityState: "visible",
    addEventListener: noop,
    removeEventListener: noop,
  };
  if (typeof globalThis.navigator === "undefined") {
    globalThis.navigator = { onLine: true };
  }
  // Node's BroadcastChannel keeps the event loop alive; the v5 client opens one per
  // getSession() and never closes it. Keep the real thing, just unref it.
  if (typeof globalThis.BroadcastChannel === "function") {
    const Native = globalThis.BroadcastChannel;
    globalThis.BroadcastChannel = class extends Native {
      constructor(name) {
        super(name);
        this.unref?.();
      }
    };
  }

  const jar = new CookieJar();
  const { exchanges } = installRecordingFetch({ jar, pageUrl: () => page.href });
  return {
    jar,
    exchanges,
    origin,
    base,
    basePath: baseUrl.pathname.replace(/\/$/, ""),
    pageUrl: `${origin}/`,
    navigations,
    resetPage() {
      page.href = `${origin}/`;
    },
  };
}

/** The last recorded exchange whose URL path ends with `suffix` (and method, if given). */
export function lastExchange(exchanges, suffix, method) {
  for (let i = exchanges.length - 1; i >= 0; i--) {
    const e = exchanges[i];
    if (new URL(e.url).pathname.endsWith(suffix) && (!method || e.method === method)) return e;
  }
  return undefined;
}
