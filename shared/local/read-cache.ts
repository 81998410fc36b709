/**
 * A short-lived cache of the local monitor's read answers, so a burst of requests costs one store read
 * per distinct URL and second instead of one per request, and almost no request waits for one:
 *
 * - concurrent identical GETs share one answer (single flight);
 * - an answer is reused for `ttlMs`;
 * - after that the next request starts a refresh in the background and is answered from the last answer
 *   at once, as is every request until the refresh lands, so only the first read of a URL ever waits for
 *   the store (answers are at most `ttlMs` plus one store read old).
 *
 * Any other method clears it (an acknowledgement changes what the reads answer), and so does a change of
 * `storeVersion` (the monitor counts its writes: an ingested batch, a sweep, a drill), so the first read
 * after a change waits for the changed answer. A 5xx answer (the store failed, or its queue was full) goes
 * to the requests that shared its flight and is not kept.
 */
import type { Context, MiddlewareHandler, Next } from 'hono';

interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array<ArrayBuffer> | null;
}

interface Entry {
  /** When the flight started (epoch ms). */
  readonly at: number;
  readonly answer: Promise<Answer>;
  /** The flight's answer once it landed and is kept. */
  done?: Answer;
  /** The previous answer, served while this flight refreshes it. */
  readonly last?: Answer;
}

/** Builds the middleware; `now` is the clock (epoch ms). */
export function cacheReads(options: {
  ttlMs: number;
  maxEntries: number;
  now: () => number;
  /** Changes whenever what the reads answer may have changed. @default constant */
  storeVersion?: () => number;
}): MiddlewareHandler {
  const entries = new Map<string, Entry>();
  const version = options.storeVersion ?? (() => 0);
  let cachedVersion = version();
  const fly = (c: Context, next: Next, key: string, now: number, last?: Answer): Entry => {
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
    const entry: Entry = { at: now, answer, ...(last ? { last } : {}) };
    entries.set(key, entry);
    const forget = () => {
      if (entries.get(key) === entry) entries.delete(key);
    };
    answer.then((kept) => {
      if (kept.status >= 500) forget();
      else entry.done = kept;
    }, forget);
    return entry;
  };
  return async (c, next) => {
    if (c.req.method !== 'GET') {
      entries.clear();
      await next();
      return;
    }
    if (version() !== cachedVersion) {
      entries.clear();
      cachedVersion = version();
    }
    const key = `${c.req.url}\n${c.req.header('if-none-match') ?? ''}\n${c.req.header('authorization') ?? ''}`;
    const now = options.now();
    const entry = entries.get(key);
    if (!entry) {
      // The first read of this URL: it answers with what the route answered.
      await fly(c, next, key, now).answer;
      return;
    }
    let answer: Answer;
    if (entry.done && now - entry.at < options.ttlMs) answer = entry.done;
    else if (entry.done) {
      // Stale: refreshed in the background (on this request's context, whose own answer is the last one).
      fly(c, next, key, now, entry.done).answer.catch(() => undefined);
      answer = entry.done;
    } else answer = entry.last ?? (await entry.answer);
    const { status, headers, body } = answer;
    // A byte array and a plain header record keep the Node adapter on its fast path (no web streams);
    // the array is shared by every copy and never written to.
    c.res = new Response(status === 304 ? null : body, { status, headers: { ...headers } });
  };
}
