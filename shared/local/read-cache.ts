/**
 * A short-lived cache of the local monitor's read answers, so a burst of requests costs one store read
 * per distinct URL and second instead of one per request: concurrent identical GETs share one answer
 * (single flight), and an answer is reused for `ttlMs`. Any other method clears it (an acknowledgement
 * changes what the reads answer).
 */
import type { MiddlewareHandler } from 'hono';

interface Entry {
  readonly at: number;
  readonly answer: Promise<{ status: number; headers: [string, string][]; body: ArrayBuffer }>;
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
    let entry = entries.get(key);
    if (!entry || now - entry.at >= options.ttlMs) {
      if (entries.size >= options.maxEntries) entries.clear();
      const answer = (async () => {
        await next();
        const response = c.res;
        return {
          status: response.status,
          headers: headerList(response.headers),
          body: await response.clone().arrayBuffer(),
        };
      })();
      entry = { at: now, answer };
      entries.set(key, entry);
      // A failed read is not kept.
      answer.catch(() => entries.delete(key));
      await answer;
      return;
    }
    const { status, headers, body } = await entry.answer;
    c.res = new Response(status === 304 ? null : body.slice(0), { status, headers });
  };
}

function headerList(headers: Headers): [string, string][] {
  const list: [string, string][] = [];
  headers.forEach((value, name) => {
    list.push([name, value]);
  });
  return list;
}
