/**
 * A short-lived cache of the local monitor's read answers, so a burst of requests costs one store read
 * per distinct URL and second instead of one per request: concurrent identical GETs share one answer
 * (single flight), and an answer is reused for `ttlMs`. Any other method clears it (an acknowledgement
 * changes what the reads answer). A 5xx answer (the store failed, or its queue was full) goes to the
 * requests that shared its flight and is not kept.
 */
import type { MiddlewareHandler } from 'hono';

interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array<ArrayBuffer> | null;
}

interface Entry {
  readonly at: number;
  readonly answer: Promise<Answer>;
}

/** Builds the middleware; `now` is the clock (epoch ms). */
export function cacheReads(options: {
  ttlMs: number;
  maxEntries: number;
  now: () => number;
}): MiddlewareHandler {
  const entries = new Map<string, Entry>();
  return async (c, next) => {
    if (c.req.method !== 'GET') {
      entries.clear();
      await next();
      return;
    }
    const key = `${c.req.url}\n${c.req.header('if-none-match') ?? ''}\n${c.req.header('authorization') ?? ''}`;
    const now = options.now();
    const entry = entries.get(key);
    if (!entry || now - entry.at >= options.ttlMs) {
      if (entries.size >= options.maxEntries) entries.clear();
      const answer = (async (): Promise<Answer> => {
        await next();
        const response = c.res;
        const body = response.body === null ? null : new Uint8Array(await response.clone().arrayBuffer());
        const headers: Record<string, string> = {};
        response.headers.forEach((value, name) => {
          headers[name] = value;
        });
        return { status: response.status, headers, body };
      })();
      const started: Entry = { at: now, answer };
      entries.set(key, started);
      const forget = () => {
        if (entries.get(key) === started) entries.delete(key);
      };
      // A failed read is not kept.
      answer.then((kept) => kept.status >= 500 && forget(), forget);
      await answer;
      return;
    }
    const { status, headers, body } = await entry.answer;
    // A byte array and a plain header record keep the Node adapter on its fast path (no web streams);
    // the array is shared by every copy and never written to.
    c.res = new Response(status === 304 ? null : body, { status, headers: { ...headers } });
  };
}
