import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryMonitorData, type MonitorData } from '../../../shared/api/monitor-data.js';
import { createApiRouter } from '../../../shared/api/router.js';
import { type FleetRow, fleetOrderKey, matchesFleetFilter } from '../../../shared/core/fleet-row.js';
import type { Status } from '../../../shared/core/report.js';
import { createDynamoMonitorData } from '../../../shared/store/monitor-items.js';
import { type LocalDynamo, startDynalite } from '../../support/dynalite.js';
import { syntheticFleetRow } from '../../support/fleet-rows.js';
import { validatingApp } from '../../support/openapi-validator.js';

const NOW = Date.parse('2026-11-20T12:00:00Z');
const FLEET = Array.from({ length: 240 }, (_, n) => syntheticFleetRow(n + 1, NOW));
const ORDERED = [...FLEET].sort((a, b) =>
  fleetOrderKey(a) < fleetOrderKey(b) ? -1 : fleetOrderKey(a) > fleetOrderKey(b) ? 1 : 0,
);

interface Page {
  clusters: Array<FleetRow & { recoveryPointLagSeconds: number | null }>;
  cursor: string | null;
  counts: unknown;
}

async function readAll(app: ReturnType<typeof createApiRouter>, query: string, limit: number) {
  const ids: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const suffix: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const response = await app.request(`/clusters?limit=${limit}${query}${suffix}`);
    expect(response.status).toBe(200);
    const page = (await response.json()) as Page;
    // Below ~12,000 clusters a page holds `limit` rows whenever more follow.
    if (page.cursor !== null) expect(page.clusters).toHaveLength(limit);
    else expect(page.clusters.length).toBeLessThanOrEqual(limit);
    ids.push(...page.clusters.map((c) => c.id));
    cursor = page.cursor;
    pages += 1;
  } while (cursor !== null && pages < 100);
  return ids;
}

describe.each(['memory', 'dynalite'] as const)('GET /clusters over the %s store', (store) => {
  let dynamo: LocalDynamo | undefined;
  let data: MonitorData;
  let app: ReturnType<typeof createApiRouter>;
  beforeAll(async () => {
    if (store === 'dynalite') {
      dynamo = await startDynalite('walwatch-fleet-page');
      data = createDynamoMonitorData(dynamo.db, dynamo.table);
    } else {
      data = createMemoryMonitorData(new Map());
    }
    for (const fleetRow of FLEET)
      expect(await data.putFleetRow({ row: fleetRow, changed: false, nextCheckAt: null }, 0)).toBe(true);
    await data.putFleetCounts({ critical: 48, warning: 48, ok: 144, total: 240 }, NOW - 30_000);
    // Every page a test reads is first held to the API's OpenAPI document.
    app = validatingApp(createApiRouter({ data, now: () => NOW, callerOf: () => 'test' }));
  });
  afterAll(async () => {
    await dynamo?.stop();
  });

  it('pages through the whole fleet worst first, each cluster once', async () => {
    expect(await readAll(app, '', 37)).toEqual(ORDERED.map((r) => r.id));
  });

  it.each([
    ['status=critical', { status: ['critical'] as Status[] }],
    ['status=critical,ok', { status: ['critical', 'ok'] as Status[] }],
    ['scope=orders', { scope: 'orders' }],
    ['status=warning,critical', { status: ['warning', 'critical'] as Status[] }],
    ['q=orders-eu-1', { q: 'orders-eu-1' }],
    ['q=Search&status=critical', { q: 'Search', status: ['critical'] as Status[] }],
    ['q=team', { q: 'team' }],
    ['scope=orders-eu&q=wal/16', { scope: 'orders-eu', q: 'wal/16' }],
  ])('filters by %s, in list order, across pages', async (query, filter) => {
    const expected = ORDERED.filter((r) => matchesFleetFilter(r, filter)).map((r) => r.id);
    expect(expected.length).toBeGreaterThan(0);
    expect(await readAll(app, `&${query}`, 10)).toEqual(expected);
  });

  it('searches cluster ids ignoring case', async () => {
    const lower = await readAll(app, '&q=orders-eu-1', 10);
    expect(lower.length).toBeGreaterThan(0);
    expect(await readAll(app, '&q=ORDERS-Eu-1', 10)).toEqual(lower);
  });

  it('answers ages at answer time from the stored times, and the counts of the last sweep', async () => {
    const page = (await (await app.request('/clusters?limit=100')).json()) as Page & {
      countsAt: string;
    };
    const first = page.clusters.find((c) => c.recoveryPointAt !== null);
    expect(first?.recoveryPointLagSeconds).toBe((NOW - Date.parse(first?.recoveryPointAt ?? '')) / 1000);
    expect(page.counts).toEqual({ critical: 48, warning: 48, ok: 144, total: 240 });
    expect(page.countsAt).toBe(new Date(NOW - 30_000).toISOString());
  });

  it('answers 304 to the ETag of an unchanged page, and 200 once a row on it changes', async () => {
    const first = await app.request('/clusters?limit=20&status=critical');
    const tag = first.headers.get('etag');
    expect(tag).toMatch(/^W\/".+"$/);
    const again = await app.request('/clusters?limit=20&status=critical', {
      headers: { 'if-none-match': tag as string },
    });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    expect(again.headers.get('etag')).toBe(tag);
    // Another query is another page, with another tag.
    const other = await app.request('/clusters?limit=20&status=warning', {
      headers: { 'if-none-match': tag as string },
    });
    expect(other.status).toBe(200);

    const changed = ORDERED.find((r) => r.status === 'critical') as FleetRow;
    const stored = (await data.getFleetRows([changed.id])).get(changed.id);
    const moved = { ...changed, problems: 2, analyzedAt: new Date(NOW).toISOString() };
    expect(await data.putFleetRow({ row: moved, changed: false, nextCheckAt: null }, stored?.ver ?? 0)).toBe(
      true,
    );
    const after = await app.request('/clusters?limit=20&status=critical', {
      headers: { 'if-none-match': tag as string },
    });
    expect(after.status).toBe(200);
    expect(after.headers.get('etag')).not.toBe(tag);
    await data.putFleetRow({ row: changed, changed: false, nextCheckAt: null }, (stored?.ver ?? 0) + 1);
  });

  it.each([
    ['limit=0', /limit/],
    ['limit=101', /limit/],
    ['status=broken', /status/],
    ['cursor=not-a-cursor', /cursor/],
    ['sort=id', /sort|Unrecognized/i],
  ])('refuses %s with a 400 naming it', async (query, message) => {
    const response = await app.request(`/clusters?${query}`);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('bad-request');
    expect(body.error.message).toMatch(message);
  });
});
