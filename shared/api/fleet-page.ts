/**
 * `GET /clusters`: one page of the fleet summary, worst first, with filters, a cursor, the counts per
 * status and a weak `ETag`. The tag covers what the rows store (times, statuses, counts), not the ages,
 * which are derived from those times at answer time: an unchanged page answers `304 Not Modified` to
 * `If-None-Match`, and the client ages what it has by its own clock.
 */
import { createHash } from 'node:crypto';
import type { Context } from 'hono';
import { z } from 'zod';
import { fleetRowAges } from '../core/fleet-row.js';
import { InvalidCursorError, MAX_FLEET_PAGE } from '../store/fleet-rows.js';
import type { MonitorData } from './monitor-data.js';

/** Rows per page when `limit` is not given. */
export const DEFAULT_FLEET_PAGE = 100;

const statusList = z
  .string()
  .max(64)
  .transform((text) => text.split(',').map((part) => part.trim()))
  .pipe(z.array(z.enum(['critical', 'warning', 'ok'])).min(1));

const fleetQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(MAX_FLEET_PAGE).default(DEFAULT_FLEET_PAGE),
    cursor: z.string().min(1).max(4096).optional(),
    status: statusList.optional(),
    scope: z.string().min(1).max(256).optional(),
    q: z.string().min(1).max(256).optional(),
  })
  .strict();

/** Answers one page of the fleet list. */
export async function answerFleetPage(c: Context, data: MonitorData, now: number): Promise<Response> {
  const parsed = fleetQuery.safeParse(c.req.query());
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path[0] ?? 'query';
    return c.json(
      {
        error: {
          code: 'bad-request',
          message: `${String(field)}: ${issue?.message ?? 'invalid'} (limit 1-${MAX_FLEET_PAGE}, status critical|warning|ok[,…], scope, q, cursor)`,
        },
      },
      400,
    );
  }
  const query = parsed.data;
  let page: Awaited<ReturnType<MonitorData['queryFleet']>>;
  let counts: Awaited<ReturnType<MonitorData['getFleetCounts']>>;
  try {
    [page, counts] = await Promise.all([data.queryFleet(query), data.getFleetCounts()]);
  } catch (error) {
    if (error instanceof InvalidCursorError)
      return c.json({ error: { code: 'bad-request', message: error.message } }, 400);
    throw error;
  }
  const tag = fleetEtag(query, page.rows, page.cursor, counts?.counts ?? null);
  c.header('ETag', tag);
  c.header('Cache-Control', 'no-cache');
  if (matchesEtag(c.req.header('if-none-match'), tag)) return c.body(null, 304);
  return c.json({
    generatedAt: new Date(now).toISOString(),
    clusters: page.rows.map((row) => fleetRowAges(row, now)),
    cursor: page.cursor,
    counts: counts?.counts ?? null,
    countsAt: counts ? new Date(counts.at).toISOString() : null,
  });
}

/** A weak tag of what a page stores (the analysis time of each row left out: re-analysing changes nothing). */
function fleetEtag(
  query: object,
  rows: readonly object[],
  cursor: string | null,
  counts: object | null,
): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(query));
  for (const row of rows) {
    const { analyzedAt: _analyzedAt, ...stored } = row as { analyzedAt?: string };
    hash.update(JSON.stringify(stored));
  }
  hash.update(JSON.stringify([cursor, counts]));
  return `W/"${hash.digest('base64url').slice(0, 27)}"`;
}

/** `If-None-Match` with weak comparison (RFC 9110 §13.1.2): any listed tag, or `*`. */
function matchesEtag(header: string | undefined, tag: string): boolean {
  if (!header) return false;
  const bare = (value: string) => value.trim().replace(/^W\//, '');
  return header.split(',').some((value) => value.trim() === '*' || bare(value) === bare(tag));
}
