/**
 * `GET /clusters`: one page of the fleet summary, worst first, with filters, a cursor, the counts per
 * status and a weak `ETag`. The tag covers what the rows store (times, statuses, counts), not the ages,
 * which are derived from those times at answer time: an unchanged page answers `304 Not Modified` to
 * `If-None-Match`, and the client ages what it has by its own clock.
 */
import { createHash } from 'node:crypto';
import type { z } from '@hono/zod-openapi';
import { fleetRowAges } from '../core/fleet-row.js';
import type { Status } from '../core/report.js';
import { InvalidCursorError } from '../store/fleet-rows.js';
import type { MonitorData } from './monitor-data.js';
import type { fleetPageSchema, fleetQuerySchema } from './schemas.js';

/** A page read for a query: its tag and answer, or why the query is refused. */
export type FleetPageRead =
  | { readonly ok: true; readonly etag: string; readonly page: z.infer<typeof fleetPageSchema> }
  | { readonly ok: false; readonly message: string };

/** Reads one page of the fleet list for a validated query. */
export async function readFleetPage(
  data: MonitorData,
  query: z.infer<typeof fleetQuerySchema>,
  now: number,
): Promise<FleetPageRead> {
  const filter = {
    limit: query.limit,
    ...(query.cursor !== undefined ? { cursor: query.cursor } : {}),
    ...(query.status !== undefined ? { status: query.status.split(',') as Status[] } : {}),
    ...(query.scope !== undefined ? { scope: query.scope } : {}),
    ...(query.q !== undefined ? { q: query.q } : {}),
  };
  let page: Awaited<ReturnType<MonitorData['queryFleet']>>;
  let counts: Awaited<ReturnType<MonitorData['getFleetCounts']>>;
  try {
    [page, counts] = await Promise.all([data.queryFleet(filter), data.getFleetCounts()]);
  } catch (error) {
    if (error instanceof InvalidCursorError) return { ok: false, message: error.message };
    throw error;
  }
  return {
    ok: true,
    etag: fleetEtag(filter, page.rows, page.cursor, counts?.counts ?? null),
    page: {
      generatedAt: new Date(now).toISOString(),
      clusters: page.rows.map((row) => ({ ...fleetRowAges(row, now), lastDrill: row.lastDrill ?? null })),
      cursor: page.cursor,
      counts: counts?.counts ?? null,
      countsAt: counts ? new Date(counts.at).toISOString() : null,
    },
  };
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
export function matchesEtag(header: string | undefined, tag: string): boolean {
  if (!header) return false;
  const bare = (value: string) => value.trim().replace(/^W\//, '');
  return header.split(',').some((value) => value.trim() === '*' || bare(value) === bare(tag));
}
