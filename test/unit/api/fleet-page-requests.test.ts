import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiRouter } from '../../../shared/api/router.js';
import { createDynamoMonitorData } from '../../../shared/store/monitor-items.js';
import { type LocalDynamo, startDynalite } from '../../support/dynalite.js';
import { syntheticFleetRow } from '../../support/fleet-rows.js';

const NOW = Date.parse('2026-11-20T12:00:00Z');
const FLEET = Array.from({ length: 240 }, (_, n) => syntheticFleetRow(n + 1, NOW));
/** How long the page's Query answer is held waiting for the counts request to go out. */
const HOLD_MS = 2_000;

/**
 * What the client sent and received, in order, as seen next to the HTTP handler (after signing, before
 * parsing): `sent GetItem`, `answered Query`, … Clear it before each request: a Query's answer is held until
 * a GetItem since then is on the wire (or {@link HOLD_MS} passed), so a counts request that waits for the
 * page's Query shows up after it.
 */
function recordWire(db: DynamoDBDocumentClient): string[] {
  const log: string[] = [];
  const waiting: Array<() => void> = [];
  const getItemSent = () =>
    log.includes('sent GetItem')
      ? Promise.resolve()
      : Promise.race([
          new Promise<void>((resolve) => waiting.push(resolve)),
          new Promise<void>((resolve) => setTimeout(resolve, HOLD_MS)),
        ]);
  db.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName).replace(/Command$/, '');
      log.push(`sent ${name}`);
      if (name === 'GetItem') for (const resolve of waiting.splice(0)) resolve();
      const result = await next(args);
      if (name === 'Query') await getItemSent();
      log.push(`answered ${name}`);
      return result;
    },
    { step: 'deserialize', priority: 'low', name: 'recordWire' },
  );
  return log;
}

describe('GET /clusters over DynamoDB', () => {
  let dynamo: LocalDynamo;
  let log: string[];
  let app: ReturnType<typeof createApiRouter>;
  beforeAll(async () => {
    dynamo = await startDynalite('walwatch-fleet-requests');
    const data = createDynamoMonitorData(dynamo.db, dynamo.table);
    for (const row of FLEET) await data.putFleetRow({ row, changed: false, nextCheckAt: null }, 0);
    await data.putFleetCounts({ critical: 48, warning: 48, ok: 144, total: 240 }, NOW - 30_000);
    // The API's own client, watched on the wire.
    const db = dynamo.client();
    log = recordWire(db);
    app = createApiRouter({
      data: createDynamoMonitorData(db, dynamo.table),
      now: () => NOW,
      callerOf: () => 'test',
    });
  });
  afterAll(async () => {
    await dynamo.stop();
  });

  it.each(['', '&status=critical', '&status=critical,ok', '&q=orders-eu-1', '&scope=orders'])(
    'reads a page of 100 (%s) in one Query, one BatchGetItem and one GetItem',
    async (filter) => {
      log.length = 0;
      const response = await app.request(`/clusters?limit=100${filter}`);
      expect(response.status).toBe(200);
      expect(((await response.json()) as { clusters: unknown[] }).clusters.length).toBeGreaterThan(0);
      const sent = log.filter((line) => line.startsWith('sent ')).sort();
      expect(sent).toEqual(['sent BatchGetItem', 'sent GetItem', 'sent Query']);
    },
  );

  it('sends the counts GetItem before the page Query answers, and the rows BatchGetItem after it', async () => {
    log.length = 0;
    const response = await app.request('/clusters?limit=100');
    expect(response.status).toBe(200);
    const at = (line: string) => log.indexOf(line);
    expect(at('sent Query')).toBeGreaterThanOrEqual(0);
    expect(at('sent GetItem')).toBeLessThan(at('answered Query'));
    expect(at('sent BatchGetItem')).toBeGreaterThan(at('answered Query'));
  });
});
