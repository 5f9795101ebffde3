#!/usr/bin/env node
// Real-browser end-to-end test of portcullis (see README.md beside this file).
//
//   node e2e/run.mjs [--target example|server] [--server PATH] [--env KEY=VALUE]... [--chromium PATH] [--timeout SECONDS]
//
// Starts the example server (examples/credentials-jwt; `--target server`: the standalone
// `portcullis` binary, with a themed portcullis.toml and a user added by `portcullis users add`)
// on a free port in a fresh temporary working directory, a small Node front server on another free port that serves the Vite build
// of the React page and reverse-proxies everything else to the Rust server (Host passed through,
// every Set-Cookie passed back: first-party cookies, as behind a real proxy), then drives
// Debian's Chromium through playwright-core. Exits non-zero on any failure; the last line is
// `N passed, M failed`.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const dist = path.join(here, 'dist');

// ---------------------------------------------------------------- arguments
function usage(msg) {
  if (msg) console.error(`run.mjs: ${msg}`);
  console.error('usage: node e2e/run.mjs [--target example|server] [--server PATH] [--env KEY=VALUE]... [--chromium PATH] [--timeout SECONDS]');
  process.exit(2);
}
const opts = {
  target: 'example',
  server: null, // default below, by target
  env: {},
  chromium: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  timeout: 180,
};
{
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => (i + 1 < argv.length ? argv[++i] : usage(`${a} needs a value`));
    if (a === '--server') opts.server = path.resolve(val());
    else if (a === '--target') {
      opts.target = val();
      if (!['example', 'server'].includes(opts.target)) usage(`--target wants example or server, got ${JSON.stringify(opts.target)}`);
    }
    else if (a === '--env') {
      const kv = val();
      const eq = kv.indexOf('=');
      if (eq <= 0) usage(`--env wants KEY=VALUE, got ${JSON.stringify(kv)}`);
      opts.env[kv.slice(0, eq)] = kv.slice(eq + 1);
    } else if (a === '--chromium') opts.chromium = val();
    else if (a === '--timeout') opts.timeout = Number(val()) || usage('--timeout wants seconds');
    else if (a === '-h' || a === '--help') usage();
    else usage(`unknown argument ${a}`);
  }
}
const SERVER = opts.target === 'server';
opts.server ??= path.join(
  process.env.CARGO_TARGET_DIR || path.join(root, 'target'),
  'debug',
  SERVER ? 'portcullis' : 'example-credentials-jwt',
);
// The example defaults to JWT sessions, the standalone server to database sessions.
const database = SERVER ? opts.env.PORTCULLIS_STRATEGY !== 'jwt' : opts.env.PORTCULLIS_STRATEGY === 'database';
// Screenshots go to e2e/artifacts/<strategy>/ (server: server-<strategy>/), emptied at the start of each run.
const artifacts = path.join(here, 'artifacts', `${SERVER ? 'server-' : ''}${database ? 'database' : 'jwt'}`);
const label =
  (SERVER ? 'standalone server, ' : '') +
  (Object.keys(opts.env).length
    ? Object.entries(opts.env).map(([k, v]) => `${k}=${v}`).join(' ')
    : `default env (${database ? 'database' : 'JWT'} sessions)`);
// The user signing in: the example's built-in alice / wonderland, or the one this run adds to
// the server with `portcullis users add` (the credentials form's `username` is the email there).
const USER = SERVER ? 'alice@example.com' : 'alice';
// The built-in sign-in form's user field: the server's password provider asks for `email`,
// the example app's credentials provider for `username`.
const USER_FIELD = SERVER ? 'email' : 'username';
const PASSWORD = SERVER ? `pw-${randomBytes(12).toString('hex')}` : 'wonderland';
const BRAND = '#0f766e';

// ---------------------------------------------------------------- results
let passed = 0;
let failed = 0;
let skipped = 0;
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
function finish(code) {
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exitCode = code ?? (failed || skipped ? 1 : 0);
}

// ---------------------------------------------------------------- cleanup
const cleanups = [];
let cleaned = false;
let aborted = false; // set by the watchdog or a signal: steps still running then stay silent
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  for (const fn of cleanups.reverse()) {
    try {
      await withTimeout(Promise.resolve().then(fn), 10_000, 'cleanup step');
    } catch (e) {
      console.error(`# cleanup: ${e.message}`);
    }
  }
}
// A closed stdout (`node run.mjs | head`) must not kill the run before its cleanup.
process.stdout.on('error', () => {});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, async () => {
    if (aborted) return;
    aborted = true;
    console.log(`not ok - stopped by ${sig}`);
    await cleanup();
    failed++;
    finish(1);
    process.exit(1);
  });
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------- helpers
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Builds the React page when dist/ is missing or older than its sources. */
function buildIfNeeded() {
  const out = path.join(dist, 'index.html');
  const sources = ['index.html', 'src/main.jsx', 'vite.config.js', 'package-lock.json'].map((f) => path.join(here, f));
  const stale =
    !fs.existsSync(out) || sources.some((f) => fs.existsSync(f) && fs.statSync(f).mtimeMs > fs.statSync(out).mtimeMs);
  if (!stale) return;
  const vite = path.join(here, 'node_modules', 'vite', 'bin', 'vite.js');
  if (!fs.existsSync(vite)) throw new Error('e2e/node_modules is missing: run `npm ci --prefix e2e` first');
  console.log('# building the React page (vite build)');
  const r = spawnSync(process.execPath, [vite, 'build'], { cwd: here, stdio: 'inherit', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`vite build failed (status ${r.status}${r.error ? `, ${r.error.message}` : ''})`);
}

/**
 * `--target server`: writes `portcullis.toml` (a `[theme]`) into the working directory and adds
 * alice with `portcullis users add`, the password piped on stdin. Returns the server's env.
 */
function prepareStandalone({ port, origin, secret, work, logPath }) {
  const config = path.join(work, 'portcullis.toml');
  fs.writeFileSync(config, `[theme]\nbrand_color = "${BRAND}"\ncolor_scheme = "light"\n`);
  const env = {
    ...process.env,
    RUST_LOG: 'warn',
    PORTCULLIS_SESSION_EXPOSE: 'role',
    PORTCULLIS_SESSION_UPDATABLE: 'name',
    ...opts.env,
    PORTCULLIS_CONFIG: config,
    PORTCULLIS_LISTEN: `127.0.0.1:${port}`,
    AUTH_SECRET: secret,
    AUTH_URL: origin,
  };
  const r = spawnSync(
    opts.server,
    ['--config', config, 'users', 'add', USER, '--name', 'Alice', '--attr', 'role=admin'],
    { cwd: work, env, input: `${PASSWORD}\n`, encoding: 'utf8', timeout: 60_000 },
  );
  fs.appendFileSync(logPath, `$ portcullis users add ${USER} --name Alice --attr role=admin\n${r.stdout ?? ''}${r.stderr ?? ''}`);
  assert(
    r.status === 0,
    `portcullis users add failed (status ${r.status}${r.error ? `, ${r.error.message}` : ''}): ${(r.stdout ?? '') + (r.stderr ?? '')}`,
  );
  return { args: ['--config', config], env };
}

/** Starts the Rust server; resolves once `/api/auth/csrf` answers. */
async function startServer({ port, origin, secret, work }) {
  assert(
    fs.existsSync(opts.server),
    `server binary not found: ${opts.server} (cargo build -p ${SERVER ? 'portcullis-server' : 'example-credentials-jwt'}, or --server PATH)`,
  );
  const logPath = path.join(work, 'server.log');
  const { args, env } = SERVER
    ? prepareStandalone({ port, origin, secret, work, logPath })
    : {
        args: [],
        env: { ...process.env, RUST_LOG: 'warn', ...opts.env, PORT: String(port), AUTH_SECRET: secret, AUTH_URL: origin },
      };
  const log = fs.openSync(logPath, 'a');
  const child = spawn(opts.server, args, {
    cwd: work,
    env,
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  let exited = null;
  child.on('exit', (code, signal) => {
    exited = { code, signal };
  });
  // Last resort if this process dies before cleanup() (an uncaught error): no orphaned server.
  process.on('exit', () => {
    if (!exited) child.kill('SIGKILL');
  });
  cleanups.push(async () => {
    if (exited) return;
    child.kill('SIGTERM');
    for (let i = 0; i < 30 && !exited; i++) await sleep(100);
    if (!exited) child.kill('SIGKILL');
  });
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (exited) break;
    try {
      const r = await fetch(`http://127.0.0.1:${port}/api/auth/csrf`, { signal: AbortSignal.timeout(1000) });
      if (r.ok) return { child, logPath };
    } catch {
      /* not up yet */
    }
    await sleep(100);
  }
  const tail = fs.readFileSync(logPath, 'utf8').slice(-4000);
  throw new Error(`server did not come up (${exited ? `exited ${JSON.stringify(exited)}` : 'no answer in 20 s'}); log:\n${tail}`);
}

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};
// Hop-by-hop headers (RFC 9110 §7.6.1) are not forwarded; Node sets its own framing.
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

/**
 * The front server: `dist/` as static files (`/` is the React page), everything else
 * reverse-proxied to the Rust server with the request's Host unchanged and every response
 * header — each Set-Cookie on its own — passed back.
 */
async function startFront({ port, upstreamPort }) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://front');
    let file = null;
    if (req.method === 'GET' || req.method === 'HEAD') {
      const rel = url.pathname === '/' ? 'index.html' : decodeURIComponent(url.pathname).replace(/^\/+/, '');
      const candidate = path.resolve(dist, rel);
      if (candidate.startsWith(dist + path.sep) && fs.existsSync(candidate) && fs.statSync(candidate).isFile()) file = candidate;
    }
    if (file) {
      res.writeHead(200, {
        'content-type': MIME[path.extname(file)] || 'application/octet-stream',
        'cache-control': 'no-store',
      });
      if (req.method === 'HEAD') return res.end();
      return fs.createReadStream(file).pipe(res);
    }
    const headers = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k)) headers[k] = v; // host kept as is
    headers['x-forwarded-for'] = req.socket.remoteAddress;
    const upstream = http.request(
      { host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers, agent: false, timeout: 15_000 },
      (up) => {
        const raw = [];
        for (let i = 0; i < up.rawHeaders.length; i += 2) {
          if (!HOP.has(up.rawHeaders[i].toLowerCase())) raw.push(up.rawHeaders[i], up.rawHeaders[i + 1]);
        }
        res.writeHead(up.statusCode, up.statusMessage, raw);
        up.pipe(res);
      },
    );
    upstream.on('timeout', () => upstream.destroy(new Error('upstream timeout')));
    upstream.on('error', (e) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`bad gateway: ${e.message}`);
    });
    req.pipe(upstream);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  cleanups.push(
    () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  );
  return server;
}

// ---------------------------------------------------------------- the checks
/** A named group of dependent steps: after the first failure the rest are skipped. */
function group(name) {
  let broken = null;
  return async function step(title, fn, { timeout = 30_000 } = {}) {
    const full = `${name}: ${title}`;
    if (aborted) return;
    if (broken) {
      skipped++;
      console.log(`ok - ${full} # SKIP after "${broken}" failed`);
      return;
    }
    const s = Date.now();
    try {
      await withTimeout(Promise.resolve().then(fn), timeout, full);
      passed++;
      console.log(`ok - ${full} (${Date.now() - s} ms)`);
    } catch (e) {
      if (aborted) return;
      failed++;
      broken = title;
      console.log(`not ok - ${full} (${Date.now() - s} ms)`);
      console.log(String(e?.stack || e).split('\n').map((l) => `#   ${l}`).join('\n'));
      await onFailure?.(full);
    }
  };
}
let onFailure = null;

async function shot(page, name) {
  const file = path.join(artifacts, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true, timeout: 10_000 });
}

async function sessionViaBrowser(page) {
  // The same fetch the client makes, from the page: cookies as the browser holds them.
  return page.evaluate(async () => {
    const r = await fetch('/api/auth/session', { headers: { 'content-type': 'application/json' } });
    return { status: r.status, body: await r.json() };
  });
}

function checkAliceSession(session, name) {
  assert(session && typeof session === 'object', `no session object: ${JSON.stringify(session)}`);
  const u = session.user || {};
  assert(u.name === name, `user.name ${JSON.stringify(u.name)}, want ${JSON.stringify(name)}`);
  assert(u.email === 'alice@example.com', `user.email ${JSON.stringify(u.email)}`);
  if (SERVER) {
    // The standalone server's user ids are UUIDs made by `users add`.
    assert(typeof u.id === 'string' && u.id !== '' && u.id !== '1', `user.id ${JSON.stringify(u.id)}, want a generated id`);
    assert(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(u.id), `user.id ${JSON.stringify(u.id)} is not a UUID`);
  } else {
    assert(u.id === '1', `user.id ${JSON.stringify(u.id)}, want "1"`);
  }
  assert(u.role === 'admin', `user.role ${JSON.stringify(u.role)}, want "admin"`);
  const text = JSON.stringify(session);
  assert(!/access_?token/i.test(text) && !text.includes('"at-'), `the access token leaked into the session: ${text}`);
  assert(!/password/i.test(text) && !text.includes(PASSWORD), `a password leaked into the session: ${text}`);
  assert(typeof session.expires === 'string' && Date.parse(session.expires) > Date.now(), `expires ${JSON.stringify(session.expires)} is not a future date`);
}

async function sessionCookies(context) {
  return (await context.cookies()).filter((c) => /(^|\.)session-token(\.\d+)?$/.test(c.name));
}

/** The session cookie exists, is HttpOnly, and `document.cookie` does not show it. */
async function checkHttpOnly(context, page) {
  const cookies = await sessionCookies(context);
  assert(cookies.length > 0, `no session cookie in the browser: ${JSON.stringify((await context.cookies()).map((c) => c.name))}`);
  for (const c of cookies) {
    assert(c.httpOnly, `${c.name} is not HttpOnly`);
    assert(c.sameSite === 'Lax', `${c.name} SameSite=${c.sameSite}, want Lax`);
    assert(c.path === '/', `${c.name} Path=${c.path}`);
  }
  const visible = await page.evaluate(() => document.cookie);
  assert(!/session-token/.test(visible), `document.cookie shows the session cookie: ${visible}`);
}

// ---------------------------------------------------------------- main
async function main() {
  console.log(`# portcullis e2e — ${label}`);
  buildIfNeeded();
  fs.rmSync(artifacts, { recursive: true, force: true });
  fs.mkdirSync(artifacts, { recursive: true });
  const { chromium } = await import('playwright-core');
  assert(fs.existsSync(opts.chromium), `Chromium not found at ${opts.chromium} (apt-get install -y chromium)`);

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-e2e-'));
  let keepWork = false;
  cleanups.push(() => {
    if (keepWork) console.log(`# kept ${work} (server log: ${path.join(work, 'server.log')})`);
    else fs.rmSync(work, { recursive: true, force: true });
  });

  const rustPort = await freePort();
  let frontPort = await freePort();
  while (frontPort === rustPort) frontPort = await freePort();
  const origin = `http://127.0.0.1:${frontPort}`;
  const secret = randomBytes(33).toString('base64');

  const { logPath } = await startServer({ port: rustPort, origin, secret, work });
  await startFront({ port: frontPort, upstreamPort: rustPort });
  console.log(`# ${SERVER ? "standalone" : "example"} server ${opts.server} on 127.0.0.1:${rustPort}, front (AUTH_URL) ${origin}, work dir ${work} (${elapsed()})`);

  const browser = await chromium.launch({
    executablePath: opts.chromium,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    timeout: 30_000,
  });
  cleanups.push(() => browser.close());
  console.log(`# Chromium ${browser.version()} (${elapsed()})`);

  const pageErrors = [];
  async function newContext() {
    const context = await browser.newContext({ viewport: { width: 900, height: 700 } });
    context.setDefaultTimeout(10_000);
    context.setDefaultNavigationTimeout(15_000);
    context.on('page', (p) => p.on('pageerror', (e) => pageErrors.push(`${p.url()}: ${e.message}`)));
    return context;
  }
  let current = null; // the page to photograph when a step fails
  onFailure = async (name) => {
    keepWork = true;
    if (current && !current.isClosed()) {
      const file = path.join(artifacts, `FAILED-${name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '')}.png`);
      await current.screenshot({ path: file, fullPage: true, timeout: 5000 }).catch(() => {});
      console.log(`#   page: ${current.url()} — screenshot ${path.relative(root, file)}`);
      const text = await current.evaluate(() => document.body?.innerText ?? '').catch(() => '');
      console.log(`#   text: ${JSON.stringify(text.slice(0, 600))}`);
    }
    if (pageErrors.length) console.log(`#   page errors: ${pageErrors.join(' | ')}`);
  };

  const byId = (page, id) => page.getByTestId(id);
  const waitStatus = (page, status) =>
    page.waitForFunction((s) => document.querySelector('[data-testid="status"]')?.textContent === s, status, { timeout: 10_000 });
  const shownSession = async (page) => JSON.parse(await byId(page, 'session').textContent());

  // ------------------------------------------------------------ React app (next-auth/react)
  {
    const step = group('react app');
    const context = await newContext();
    const page = await context.newPage();
    current = page;

    await step('the page loads signed out (status "unauthenticated", session null)', async () => {
      const r = await page.goto(`${origin}/`);
      assert(r.status() === 200, `GET / → ${r.status()}`);
      await waitStatus(page, 'unauthenticated');
      assert((await byId(page, 'session').textContent()) === 'null', 'session is not null');
      await shot(page, '01-react-signed-out');
    });

    await step('a wrong password shows CredentialsSignin and stays unauthenticated', async () => {
      await byId(page, 'username').fill(USER);
      await byId(page, 'password').fill('not-the-password');
      await byId(page, 'sign-in').click();
      await page.waitForFunction(() => /CredentialsSignin/.test(document.querySelector('[data-testid="signin-result"]')?.textContent ?? ''));
      const result = JSON.parse(await byId(page, 'signin-result').textContent());
      assert(result.error === 'CredentialsSignin', `signIn().error ${JSON.stringify(result.error)}`);
      assert(result.code === 'credentials', `signIn().code ${JSON.stringify(result.code)}, want "credentials"`);
      await sleep(300); // a wrongly started session would show up by now
      assert((await byId(page, 'status').textContent()) === 'unauthenticated', 'status changed after a failed sign-in');
      const s = await sessionViaBrowser(page);
      assert(s.status === 200 && s.body === null, `GET /api/auth/session → ${s.status} ${JSON.stringify(s.body)}`);
      assert((await sessionCookies(context)).length === 0, 'a session cookie was set after a failed sign-in');
      await shot(page, '02-react-wrong-password');
    });

    await step(`${USER} / ${SERVER ? '<password>' : PASSWORD} signs in: authenticated, session shows name, email, id ${SERVER ? '(a UUID)' : '1'}, role admin, no access token`, async () => {
      await byId(page, 'password').fill(PASSWORD);
      await byId(page, 'sign-in').click();
      await waitStatus(page, 'authenticated');
      const result = JSON.parse(await byId(page, 'signin-result').textContent());
      assert(result.ok === true && result.error === null, `signIn() → ${JSON.stringify(result)}`);
      checkAliceSession(await shownSession(page), 'Alice');
      const s = await sessionViaBrowser(page);
      checkAliceSession(s.body, 'Alice');
      await shot(page, '03-react-signed-in');
    });

    await step('the session cookie is HttpOnly (not in document.cookie), SameSite=Lax', () => checkHttpOnly(context, page));

    await step('"Rename" (update({name})) shows Alice Liddell, and a reload still does', async () => {
      await byId(page, 'rename').click();
      await page.waitForFunction(() => document.querySelector('[data-testid="session"]')?.textContent.includes('Alice Liddell'));
      checkAliceSession(await shownSession(page), 'Alice Liddell');
      await shot(page, '04-react-renamed');
      await page.reload();
      await waitStatus(page, 'authenticated');
      checkAliceSession(await shownSession(page), 'Alice Liddell');
    });

    await step('/protected in the same browser answers 200 with the session (no redirect)', async () => {
      const p2 = await context.newPage();
      try {
        const r = await p2.goto(`${origin}/protected`);
        assert(r.request().redirectedFrom() === null, `redirected from ${r.request().redirectedFrom()?.url()}`);
        assert(r.status() === 200, `GET /protected → ${r.status()}`);
        assert(new URL(p2.url()).pathname === '/protected', `ended on ${p2.url()}`);
        const json = JSON.parse(await p2.locator('pre').textContent());
        checkAliceSession(json, 'Alice Liddell');
      } finally {
        await p2.close();
      }
    });

    await step('"Sign out" → unauthenticated, session null, session cookie gone', async () => {
      await byId(page, 'sign-out').click();
      await waitStatus(page, 'unauthenticated');
      assert((await byId(page, 'session').textContent()) === 'null', 'session is not null');
      const s = await sessionViaBrowser(page);
      assert(s.status === 200 && s.body === null, `GET /api/auth/session → ${s.status} ${JSON.stringify(s.body)}`);
      const left = await sessionCookies(context);
      assert(left.length === 0, `session cookie still held: ${left.map((c) => c.name)}`);
      await shot(page, '05-react-signed-out-again');
    });

    await step('/protected now redirects to /api/auth/signin?callbackUrl=…/protected', async () => {
      const r = await context.request.get(`${origin}/protected`, { maxRedirects: 0 });
      assert([302, 303, 307].includes(r.status()), `GET /protected → ${r.status()}, want a redirect`);
      const loc = new URL(r.headers()['location'], origin);
      assert(loc.origin === origin && loc.pathname === '/api/auth/signin', `Location ${r.headers()['location']}`);
      assert(loc.searchParams.get('callbackUrl') === `${origin}/protected`, `callbackUrl ${loc.searchParams.get('callbackUrl')}`);
      // And in the page itself: the browser follows it to the built-in sign-in page.
      await page.goto(`${origin}/protected`);
      const u = new URL(page.url());
      assert(u.pathname === '/api/auth/signin' && u.searchParams.get('callbackUrl') === `${origin}/protected`, `ended on ${page.url()}`);
    });
    await context.close();
  }

  // ------------------------------------------------------------ built-in pages
  {
    const step = group('built-in pages');
    const context = await newContext();
    const page = await context.newPage();
    current = page;
    // Submits the page's form and checks the POST's own answer (a redirect), so that a refused
    // POST fails at once with its status and body instead of as a navigation timeout.
    async function submitForm(p, actionPath) {
      const [resp] = await Promise.all([
        p.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === actionPath),
        p.locator('form button[type="submit"]').first().click(),
      ]);
      if (![302, 303].includes(resp.status())) {
        const body = await resp.text().catch(() => '');
        const h = await resp.request().allHeaders();
        throw new Error(
          `POST ${actionPath} → ${resp.status()} ${body.slice(0, 200)} (request Origin: ${h.origin ?? '-'}, ` +
            `Sec-Fetch-Site: ${h['sec-fetch-site'] ?? '-'}, form page's Referrer-Policy: ${referrerPolicy})`,
        );
      }
      await p.waitForLoadState('load');
      return resp;
    }
    let referrerPolicy = '?'; // of the last document loaded, for the message above
    page.on('response', (r) => {
      if (r.request().resourceType() === 'document') referrerPolicy = r.headers()['referrer-policy'] ?? '(none)';
    });

    await step('/protected in a fresh browser → the built-in sign-in page with a credentials form', async () => {
      await page.goto(`${origin}/protected`);
      const u = new URL(page.url());
      assert(u.pathname === '/api/auth/signin', `ended on ${page.url()}`);
      assert(u.searchParams.get('callbackUrl') === `${origin}/protected`, `callbackUrl ${u.searchParams.get('callbackUrl')}`);
      await page.locator(`input[name="${USER_FIELD}"]`).waitFor();
      await page.locator('input[name="password"]').waitFor();
      assert((await page.locator('input[name="csrfToken"]').count()) === 1, 'no csrfToken field');
      await shot(page, '06-builtin-signin-page');
    });

    if (SERVER) {
      await step(`the sign-in page has portcullis.toml's [theme] brand colour (--brand:${BRAND}) and light scheme in its CSS`, async () => {
        const css = await page.locator('style').allTextContents();
        const all = css.join('\n').replace(/\s+/g, '');
        assert(all.includes(`--brand:${BRAND}`), `no --brand:${BRAND} in the page's CSS: ${JSON.stringify(all.slice(0, 400))}`);
        assert(all.includes('color-scheme:light'), `no color-scheme:light in the page's CSS: ${JSON.stringify(all.slice(0, 400))}`);
        // …and the browser applies it.
        const brand = await page.evaluate(() =>
          [document.documentElement, document.body].map((e) => getComputedStyle(e).getPropertyValue('--brand').trim()).find(Boolean) ?? '',
        );
        assert(brand.toLowerCase() === BRAND, `computed --brand ${JSON.stringify(brand)}, want ${BRAND}`);
      });
    }

    await step('a wrong password → back on the sign-in page with "Sign in failed"', async () => {
      await page.locator(`input[name="${USER_FIELD}"]`).fill(USER);
      await page.locator('input[name="password"]').fill('not-the-password');
      await submitForm(page, '/api/auth/callback/credentials');
      await page.waitForURL(/error=CredentialsSignin/);
      assert(new URL(page.url()).pathname === '/api/auth/signin', `ended on ${page.url()}`);
      const text = await page.locator('body').innerText();
      assert(/Sign in failed/.test(text), `no "Sign in failed" message: ${JSON.stringify(text.slice(0, 300))}`);
      assert((await sessionCookies(context)).length === 0, 'a session cookie was set after a failed sign-in');
      await shot(page, '07-builtin-wrong-password');
    });

    // With database sessions the example saves update({name}) to the user row, so the rename
    // made in the React scenario outlives that session; with JWT it lived in that cookie only.
    const nameNow = database ? 'Alice Liddell' : 'Alice';
    await step(`${USER} / ${SERVER ? '<password>' : PASSWORD} → lands back on /protected showing the session (name ${nameNow})`, async () => {
      await page.locator(`input[name="${USER_FIELD}"]`).fill(USER);
      await page.locator('input[name="password"]').fill(PASSWORD);
      await submitForm(page, '/api/auth/callback/credentials');
      await page.waitForURL(`${origin}/protected`);
      const json = JSON.parse(await page.locator('pre').textContent());
      checkAliceSession(json, nameNow);
      await shot(page, '08-builtin-signed-in-protected');
    });

    await step('the session cookie is HttpOnly here too', () => checkHttpOnly(context, page));

    await step('the built-in sign-out page → confirm → signed out (/api/auth/session is null)', async () => {
      const r = await page.goto(`${origin}/api/auth/signout`);
      assert(r.status() === 200, `GET /api/auth/signout → ${r.status()}`);
      assert((await sessionCookies(context)).length > 0, 'GET /api/auth/signout alone signed out');
      await shot(page, '09-builtin-signout-page');
      await submitForm(page, '/api/auth/signout');
      await page.waitForURL((u) => u.pathname !== '/api/auth/signout');
      const s = await context.request.get(`${origin}/api/auth/session`);
      assert(s.status() === 200, `GET /api/auth/session → ${s.status()}`);
      assert((await s.json()) === null, `session after sign-out: ${await s.text()}`);
      assert((await sessionCookies(context)).length === 0, 'session cookie still held');
      // Back to the callbackUrl: the sign-in cookie's /protected, which now sends the browser to
      // the sign-in page (or `/`, the React page, for a callbackUrl of the origin).
      const landed = new URL(page.url()).pathname;
      assert(['/api/auth/signin', '/'].includes(landed), `landed on ${page.url()}`);
      if (landed === '/') await waitStatus(page, 'unauthenticated');
      await shot(page, '10-builtin-signed-out');
    });
    await context.close();
  }

  // ------------------------------------------------------------ artifacts
  {
    const step = group('artifacts');
    await step(`a screenshot of each state is in ${path.relative(root, artifacts)}/ as a non-empty PNG`, () => {
      const want = [
        '01-react-signed-out', '02-react-wrong-password', '03-react-signed-in', '04-react-renamed',
        '05-react-signed-out-again', '06-builtin-signin-page', '07-builtin-wrong-password',
        '08-builtin-signed-in-protected', '09-builtin-signout-page', '10-builtin-signed-out',
      ];
      const missing = [];
      for (const name of want) {
        const f = path.join(artifacts, `${name}.png`);
        if (!fs.existsSync(f)) {
          missing.push(name);
          continue;
        }
        const buf = fs.readFileSync(f);
        assert(buf.length > 1000, `${f} is only ${buf.length} bytes`);
        assert(buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), `${f} is not a PNG`);
      }
      assert(missing.length === 0, `missing: ${missing.join(', ')}`);
    });
  }

  await group('pages')('no uncaught JavaScript errors on any page', () => {
    assert(pageErrors.length === 0, pageErrors.join(' | '));
  });

  if (failed || skipped) {
    const tail = fs.readFileSync(logPath, 'utf8').slice(-4000);
    console.log(`# server log (tail):\n${tail.split('\n').map((l) => `#   ${l}`).join('\n')}`);
  }
}

const watchdog = setTimeout(async () => {
  if (aborted) return;
  aborted = true;
  console.log(`not ok - the whole run timed out after ${opts.timeout} s`);
  failed++;
  await cleanup();
  finish(1);
  process.exit(1);
}, opts.timeout * 1000);

try {
  await main();
} catch (e) {
  if (!aborted) {
    failed++;
    console.log(`not ok - setup: ${e?.message || e}`);
    if (e?.stack) console.log(e.stack.split('\n').slice(1).map((l) => `#   ${l}`).join('\n'));
  }
} finally {
  if (!aborted) {
    await cleanup();
    clearTimeout(watchdog);
    console.log(`# ${label}: done in ${elapsed()}`);
    finish();
  }
}
