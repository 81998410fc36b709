/**
 * Request rules every walwatch HTTP surface shares (the query API on API Gateway and the local monitor):
 * bodies are JSON and bounded before they are read, and a request no route answers gets a JSON error —
 * 404 for an unknown path, 405 with `Allow` for a known path and another method.
 */
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { methodNotAllowed } from 'hono/method-not-allowed';

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
  | 'events-dropped'
  | 'overloaded'
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

/**
 * Answers requests no route took with JSON: 405 with `Allow` when the path is a route's under another
 * method (Hono's `methodNotAllowed` over the app's routes), 404 otherwise. Call it on a new app, before its
 * routes: a mounted router's not-found handler is not its parent's, so the app that serves calls it too.
 */
export function answerUnmatchedWithJson(app: Hono): void {
  app.use(
    '*',
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, methods) => {
        const allow = methods.join(', ');
        return jsonError(
          c,
          405,
          'method-not-allowed',
          `${c.req.method} is not allowed on ${c.req.path}; use ${allow}`,
          { allow },
        );
      },
    }),
  );
  app.notFound((c) => jsonError(c, 404, 'not-found', `no route ${c.req.method} ${c.req.path}`));
}

/**
 * The answer to an exception: a middleware's own answer (`HTTPException`: a refused token, say) as it is,
 * anything else a JSON 500 after `onError` saw it.
 */
export function answerErrors(app: Hono, onError?: (error: unknown) => void): void {
  app.onError((error, c) => {
    if (error instanceof HTTPException) return error.getResponse();
    onError?.(error);
    return jsonError(c, 500, 'internal', 'internal error');
  });
}
