/**
 * Request rules every walwatch HTTP surface shares (the query API on API Gateway and the local monitor):
 * bodies are JSON and bounded before they are read, and a request no route answers gets a JSON error —
 * 404 for an unknown path, 405 with `Allow` for a known path and another method.
 */
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';

/** The codes of `{ "error": { "code", "message" } }` answers. */
export type ErrorCode =
  | 'bad-request'
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'method-not-allowed'
  | 'conflict'
  | 'payload-too-large'
  | 'unsupported-media-type'
  | 'internal';

/** A JSON error answer. */
export function jsonError(
  c: Context,
  status: 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 422 | 500 | 503,
  code: ErrorCode,
  message: string,
  headers: Record<string, string> = {},
): Response {
  for (const [name, value] of Object.entries(headers)) c.header(name, value);
  return c.json({ error: { code, message } }, status);
}

/**
 * Refuses a POST unless it says `content-type: application/json` (415), with a body or without (the API
 * has no other writing method; others answer 405). A browser sends a cross-site form or `text/plain` POST
 * without asking first; `application/json` needs a CORS preflight, which another site's page does not
 * pass, so this alone stops cross-site request forgery of the API.
 */
export function requireJsonBody(): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.method !== 'POST') return next();
    const type = (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/json')
      return jsonError(
        c,
        415,
        'unsupported-media-type',
        `POST bodies must be content-type: application/json, got ${JSON.stringify(type ?? '')}`,
      );
    return next();
  };
}

/**
 * Caps a request body at `maxBytes` before anything reads it (413 beyond): a declared `content-length` is
 * checked up front, a streamed body is counted as it arrives and refused at the first byte too many, so no
 * more than the cap is ever held in memory.
 */
export function limitBody(maxBytes: number): MiddlewareHandler {
  return bodyLimit({
    maxSize: maxBytes,
    onError: (c) => jsonError(c, 413, 'payload-too-large', `request bodies are limited to ${maxBytes} bytes`),
  });
}

/** A route pattern (`/clusters/:id/gaps`) as a regular expression over a request path. */
function patternOf(path: string): RegExp {
  const parts = path.split('/').map((part) => {
    if (part.startsWith(':')) return '[^/]+';
    if (part === '*') return '.*';
    return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  });
  return new RegExp(`^${parts.join('/')}/?$`);
}

/**
 * Answers requests no route took with JSON: 405 with `Allow` when the path is a route's under another
 * method, 404 otherwise. Call it on the app that serves (after every route is added), since a mounted
 * router's not-found handler is not its parent's.
 */
export function answerUnmatchedWithJson(app: Hono): void {
  app.notFound((c) => {
    const path = c.req.path;
    const allowed = new Set<string>();
    for (const route of app.routes) {
      if (route.method === 'ALL' || !patternOf(route.path).test(path)) continue;
      allowed.add(route.method);
      // Hono answers HEAD with the GET route, without its body.
      if (route.method === 'GET') allowed.add('HEAD');
    }
    if (allowed.size > 0) {
      const allow = [...allowed].join(', ');
      return jsonError(
        c,
        405,
        'method-not-allowed',
        `${c.req.method} is not allowed on ${path}; use ${allow}`,
        {
          allow,
        },
      );
    }
    return jsonError(c, 404, 'not-found', `no route ${c.req.method} ${path}`);
  });
}
