/**
 * Who may talk to the local monitor's HTTP server. A web page the operator has open can send requests to
 * `127.0.0.1` (cross-site request forgery) or, through a DNS name it controls that it points at
 * `127.0.0.1`, read the answers too (DNS rebinding). So every request must name this server in `Host`
 * (a loopback name or the listen address, with its port, or a name allowed with `--allow-host`), a
 * request from a page must come from such an origin or one allowed with `--allow-origin` (`Origin`), and
 * with an API token every route but the dashboard's static files, `/healthz` and the webhook (which has its
 * own secret) needs `Authorization: Bearer <token>`. Listening beyond loopback needs the token.
 */
import { networkInterfaces } from 'node:os';
import type { HttpBindings } from '@hono/node-server';
import type { Context, MiddlewareHandler } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { cors } from 'hono/cors';
import { jsonError } from '../api/http-guards.js';

/** What the operator configured. */
export interface AccessOptions {
  /** The listen host (`127.0.0.1`, `0.0.0.0`, `::`, a name or an address). */
  readonly host: string;
  /** Bearer token for the API, `/metrics` and the rest; required beyond loopback. */
  readonly apiToken?: string;
  /** More names (`monitor.example.com`, any port) or `name:port` accepted in `Host`. */
  readonly allowHosts?: readonly string[];
  /** Page origins (`https://dash.example.com`) allowed to call the API, with CORS. */
  readonly allowOrigins?: readonly string[];
}

/** A setting that cannot work: the monitor refuses to start (exit 3 from `walwatch serve`). */
export class AccessPolicyError extends Error {
  override readonly name = 'AccessPolicyError';
}

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];
/** RFC 6750's token68 characters, which `Authorization: Bearer` carries. */
const TOKEN = /^[A-Za-z0-9._~+/-]+=*$/;
const MIN_TOKEN_LENGTH = 16;

/** Whether a listen host only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127(\.\d{1,3}){3}$/.test(bare);
}

/**
 * Checks the options before anything starts: a token that `Authorization: Bearer` can carry and that is
 * long enough, and a token at all when the monitor listens beyond loopback; allow-list entries that are
 * host names and origins.
 */
export function checkAccessOptions(options: AccessOptions): void {
  const token = options.apiToken;
  if (token !== undefined && (!TOKEN.test(token) || token.length < MIN_TOKEN_LENGTH))
    throw new AccessPolicyError(
      `--api-token must be at least ${MIN_TOKEN_LENGTH} characters of A-Z a-z 0-9 . _ ~ + / - (try: openssl rand -hex 32)`,
    );
  if (token === undefined && !isLoopbackHost(options.host))
    throw new AccessPolicyError(
      `listening on ${options.host} reaches beyond this machine: set --api-token (or WALWATCH_API_TOKEN), or listen on 127.0.0.1`,
    );
  for (const entry of options.allowHosts ?? [])
    if (!/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/i.test(entry))
      throw new AccessPolicyError(
        `--allow-host takes a host name or address, optionally :port; got ${entry}`,
      );
  for (const entry of options.allowOrigins ?? [])
    if (originOf(entry) !== entry)
      throw new AccessPolicyError(
        `--allow-origin takes an origin such as https://dash.example.com (scheme, host, port only); got ${entry}`,
      );
}

/** `scheme://host[:port]` of a URL as browsers write it in `Origin`, or undefined. */
function originOf(text: string): string | undefined {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : undefined;
  } catch {
    return undefined;
  }
}

/** The names under which this server may be addressed, lower-case, `[v6]` in brackets. */
function ownNames(host: string): string[] {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  const names = new Set(LOOPBACK_NAMES);
  if (bare === '0.0.0.0' || bare === '::' || bare === '') {
    // A wildcard listens on every interface: each of their addresses names this server.
    for (const addresses of Object.values(networkInterfaces()))
      for (const address of addresses ?? [])
        names.add(address.family === 'IPv6' ? `[${address.address.toLowerCase()}]` : address.address);
  }
  names.add(bare.includes(':') ? `[${bare}]` : bare);
  return [...names];
}

/** Splits a `Host` value into name and port (80 when absent, as a browser omits it). */
function splitHost(value: string): { name: string; port: number } | undefined {
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(value.trim().toLowerCase());
  if (!match) return undefined;
  return { name: match[1] as string, port: match[2] === undefined ? 80 : Number(match[2]) };
}

/**
 * The paths that need no token: the dashboard's and the API reference's own files (the page carries the
 * token itself) and health.
 */
const OPEN_PATHS = new Set([
  '/',
  '/dashboard.js',
  '/dashboard.css',
  '/healthz',
  '/docs',
  '/docs/init.js',
  '/docs/swagger-ui.css',
  '/docs/swagger-ui-bundle.js',
]);

/**
 * The guard in front of every route, in order: paths with `.`/`..` segments or backslashes (which the URL
 * parser would fold into another path) are refused, then `Host`, then `Origin`, then CORS for allowed
 * origins, then the token.
 *
 * @param port the port actually listened on, known once the server is up (`--listen …:0`).
 */
export function guardAccess(options: AccessOptions, port: () => number): MiddlewareHandler {
  const names = ownNames(options.host);
  const extra = (options.allowHosts ?? []).map((entry) => entry.toLowerCase());
  const origins = new Set(options.allowOrigins ?? []);
  const hostAllowed = (value: string): boolean => {
    const host = splitHost(value);
    if (!host) return false;
    if (names.includes(host.name) && host.port === port()) return true;
    return extra.some((entry) => entry === host.name || entry === `${host.name}:${host.port}`);
  };
  const corsFor = cors({
    origin: (origin) => (origins.has(origin) ? origin : null),
    allowMethods: ['GET', 'HEAD', 'POST'],
    allowHeaders: ['authorization', 'content-type'],
    maxAge: 600,
  });
  const tokenCheck =
    options.apiToken === undefined
      ? undefined
      : bearerAuth({
          token: options.apiToken,
          realm: 'walwatch',
          noAuthenticationHeader: { message: tokenMessage('this monitor needs its API token') },
          invalidAuthenticationHeader: {
            message: tokenMessage('the Authorization header is not a bearer token'),
          },
          invalidToken: { message: tokenMessage('the API token is wrong') },
        });
  return async (c, next) => {
    const raw = (c.env as HttpBindings | undefined)?.incoming?.url ?? new URL(c.req.url).pathname;
    if (hasDotSegments(raw))
      return jsonError(c, 400, 'bad-request', 'paths with . or .. segments or backslashes are not served');
    const host = c.req.header('host');
    if (host === undefined || !hostAllowed(host))
      return jsonError(
        c,
        403,
        'forbidden',
        `Host ${JSON.stringify(host ?? '')} is not this monitor: use 127.0.0.1:${port()} or allow the name with --allow-host`,
      );
    const origin = c.req.header('origin');
    if (origin !== undefined && !origins.has(origin)) {
      const url = originOf(origin);
      if (url === undefined || !url.startsWith('http:') || !hostAllowed(new URL(url).host))
        return jsonError(
          c,
          403,
          'forbidden',
          `requests from pages of ${origin} are refused: allow the origin with --allow-origin`,
        );
    }
    const path = c.req.path;
    const open = (c.req.method === 'GET' || c.req.method === 'HEAD') && OPEN_PATHS.has(path);
    const exempt = open || path === '/webhook/s3';
    const answer = async () => {
      if (exempt || !tokenCheck) await next();
      else await tokenCheck(c, next);
    };
    if (origin !== undefined) return corsFor(c, answer);
    // No Origin, no CORS headers to add. Hono's cors would add `Vary` through `c.header` after the answer,
    // which rebuilds it around a web stream; setting it on the answer's headers keeps Node's fast path.
    await answer();
    c.res.headers.append('vary', 'Origin');
    return undefined;
  };
}

function tokenMessage(what: string): (c: Context) => object {
  return () => ({
    error: {
      code: 'unauthorized',
      message: `${what}: send Authorization: Bearer <token>; the dashboard takes it from the link walwatch serve prints (/#token=…)`,
    },
  });
}

/** Whether a request target holds a `.` or `..` segment (also percent-encoded) or a backslash. */
function hasDotSegments(target: string): boolean {
  const path = target.split('?')[0] ?? '';
  if (path.includes('\\')) return true;
  return path.split('/').some((segment) => /^(\.|%2e){1,2}$/i.test(segment));
}
