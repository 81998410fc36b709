/**
 * Bounds the local monitor's requests that reach its store. The store (dynalite) runs in the monitor's own
 * process, so a thousand store-backed requests at once would be a thousand store reads fighting for one
 * event loop, each answer waiting for all of them. Instead at most {@link STORE_QUEUE_LIMITS}`.running`
 * run at once, at most `.waiting` more wait their turn in arrival order, and a request beyond that is
 * answered at once with 503 `overloaded` and `Retry-After` rather than waiting behind the others.
 *
 * It sits behind the read cache: a request the cache answers, or one that joins an identical request in
 * flight, never takes a place. `/healthz`, the dashboard's files and the API document never pass here.
 */
import type { MiddlewareHandler } from 'hono';
import pLimit from 'p-limit';
import { jsonError } from '../api/http-guards.js';

/** The local monitor's limits (docs/local-monitor.md, "Load"). */
export const STORE_QUEUE_LIMITS = {
  /** Store-backed requests running at once. */
  running: 8,
  /** Store-backed requests waiting for a turn; one more gets 503. */
  waiting: 512,
  /** What `Retry-After` says on a 503, in seconds. */
  retryAfterSeconds: 1,
} as const;

/** The limits a queue is built with. */
export interface StoreQueueLimits {
  readonly running: number;
  readonly waiting: number;
  readonly retryAfterSeconds: number;
}

/** Builds the middleware. */
export function queueStoreRequests(limits: StoreQueueLimits = STORE_QUEUE_LIMITS): MiddlewareHandler {
  for (const [name, value] of Object.entries(limits))
    if (!Number.isInteger(value) || value < (name === 'waiting' ? 0 : 1))
      throw new RangeError(
        `store queue ${name} must be a whole number ≥ ${name === 'waiting' ? 0 : 1}, got ${value}`,
      );
  const limit = pLimit(limits.running);
  return async (c, next) => {
    // Counts what was admitted and not finished, including a request admitted in this same turn.
    if (limit.activeCount + limit.pendingCount >= limits.running + limits.waiting)
      return jsonError(
        c,
        503,
        'overloaded',
        `${limits.running + limits.waiting} requests are already running or waiting for the store; retry after ${limits.retryAfterSeconds} s`,
        { 'retry-after': String(limits.retryAfterSeconds) },
      );
    await limit(() => next());
    return undefined;
  };
}
