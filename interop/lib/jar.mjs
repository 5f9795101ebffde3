// A small browser-like cookie jar plus a recording `fetch` wrapper.
//
// It is deliberately minimal but strict about the parts Auth.js relies on:
//   * every Set-Cookie header of a response is applied (headers.getSetCookie()),
//   * `Max-Age` wins over `Expires`; `Max-Age<=0` or a past `Expires` deletes the cookie,
//   * cookies are scoped to the host (not the port, as in browsers) and to their Path,
//   * `Secure` cookies are only sent over https or to a loopback host,
//   * values are stored and sent exactly as received (still percent-encoded).

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

/** Parse one Set-Cookie header into {name, value, attrs}; attrs keys are lower-cased. */
export function parseSetCookie(header) {
  const [pair, ...rest] = header.split(";");
  const eq = pair.indexOf("=");
  if (eq < 1) throw new Error(`malformed Set-Cookie: ${header}`);
  const attrs = {};
  for (const part of rest) {
    const p = part.trim();
    if (!p) continue;
    const i = p.indexOf("=");
    const key = (i === -1 ? p : p.slice(0, i)).trim().toLowerCase();
    attrs[key] = i === -1 ? true : p.slice(i + 1).trim();
  }
  return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attrs, raw: header };
}

export class CookieJar {
  constructor() {
    /** @type {Map<string, {host, name, value, path, secure, expiresAt, attrs, raw}>} */
    this.store = new Map();
  }

  #key(host, path, name) {
    return `${host}\u0000${path}\u0000${name}`;
  }

  /** Apply the Set-Cookie headers of a response received from `url`. */
  apply(url, setCookieHeaders, now = Date.now()) {
    const u = new URL(url);
    for (const header of setCookieHeaders) {
      const c = parseSetCookie(header);
      const path = typeof c.attrs.path === "string" && c.attrs.path.startsWith("/") ? c.attrs.path : defaultPath(u);
      const key = this.#key(u.hostname, path, c.name);
      let expiresAt = null;
      if (c.attrs["max-age"] !== undefined) {
        const n = Number.parseInt(c.attrs["max-age"], 10);
        expiresAt = Number.isNaN(n) ? null : now + n * 1000;
        if (!Number.isNaN(n) && n <= 0) expiresAt = -Infinity;
      } else if (typeof c.attrs.expires === "string") {
        const t = Date.parse(c.attrs.expires);
        if (!Number.isNaN(t)) expiresAt = t;
      }
      if (expiresAt !== null && expiresAt <= now) {
        this.store.delete(key);
        continue;
      }
      this.store.set(key, {
        host: u.hostname,
        name: c.name,
        value: c.value,
        path,
        secure: c.attrs.secure === true,
        expiresAt,
        attrs: c.attrs,
        raw: header,
      });
    }
  }

  /** Cookies that would be sent to `url`, most specific path first (as browsers order them). */
  matching(url, now = Date.now()) {
    const u = new URL(url);
    const out = [];
    for (const [key, c] of this.store) {
      if (c.expiresAt !== null && c.expiresAt <= now) {
        this.store.delete(key);
        continue;
      }
      if (c.host !== u.hostname) continue;
      if (!pathMatches(u.pathname, c.path)) continue;
      if (c.secure && u.protocol !== "https:" && !LOOPBACK.has(u.hostname)) continue;
      out.push(c);
    }
    return out.sort((a, b) => b.path.length - a.path.length);
  }

  /** The `cookie` request header for `url`, or "" when nothing matches. */
  header(url) {
    return this.matching(url)
      .map((c) => `${c.name}=${c.value}`)
      .join("; ");
  }

  /** The stored cookie `name` visible at `url` (raw value, attrs, the Set-Cookie it came from). */
  get(url, name) {
    return this.matching(url).find((c) => c.name === name);
  }

  /** Names of all cookies visible at `url`. */
  names(url) {
    return this.matching(url).map((c) => c.name);
  }

  clear() {
    this.store.clear();
  }
}

function defaultPath(u) {
  const p = u.pathname;
  if (!p.startsWith("/") || p.lastIndexOf("/") === 0) return "/";
  return p.slice(0, p.lastIndexOf("/"));
}

function pathMatches(requestPath, cookiePath) {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith("/") || requestPath[cookiePath.length] === "/";
}

/**
 * Replace globalThis.fetch with a browser-like one: relative URLs resolve against
 * `pageUrl()`, the jar's cookies are attached, every Set-Cookie is stored, redirects are
 * followed by hand (so cookies of intermediate responses are applied too), and every
 * exchange is recorded in `exchanges` (request and response, bodies as text).
 */
export function installRecordingFetch({ jar, pageUrl, exchanges = [] }) {
  const nativeFetch = globalThis.fetch;

  async function browserFetch(input, init = {}) {
    let url = new URL(typeof input === "string" || input instanceof URL ? String(input) : input.url, pageUrl());
    let method = (init.method ?? "GET").toUpperCase();
    let body = init.body;
    const baseHeaders = new Headers(init.headers ?? {});
    for (let hop = 0; hop < 20; hop++) {
      const headers = new Headers(baseHeaders);
      const cookie = jar.header(url);
      if (cookie) headers.set("cookie", cookie);
      else headers.delete("cookie");
      const bodyText = body === undefined || body === null ? null : String(body);
      const res = await nativeFetch(url, { method, headers, body: bodyText ?? undefined, redirect: "manual" });
      const setCookies = res.headers.getSetCookie();
      jar.apply(url, setCookies);
      const resText = await res.clone().text();
      exchanges.push({
        method,
        url: url.href,
        requestHeaders: Object.fromEntries(headers),
        requestBody: bodyText,
        status: res.status,
        responseHeaders: res.headers,
        setCookies,
        responseBody: resText,
      });
      const location = res.headers.get("location");
      if (![301, 302, 303, 307, 308].includes(res.status) || !location) return res;
      url = new URL(location, url);
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === "POST")) {
        method = "GET";
        body = undefined;
        baseHeaders.delete("content-type");
      }
    }
    throw new TypeError("fetch: too many redirects");
  }

  globalThis.fetch = browserFetch;
  return { exchanges, nativeFetch };
}
