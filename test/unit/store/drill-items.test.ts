import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryMonitorData, type MonitorData } from '../../../shared/api/monitor-data.js';
import { DRILL_HISTORY } from '../../../shared/core/drill-status.js';
import { drillKey, MAX_STORED_LOG_TAIL, putDrillRecord } from '../../../shared/store/drill-items.js';
import { createDynamoMonitorData } from '../../../shared/store/monitor-items.js';
import { drillRecord } from '../../support/drill-records.js';
import { type LocalDynamo, startDynalite } from '../../support/dynalite.js';

const START = Date.parse('2026-11-01T00:00:00Z');
const HOUR = 3_600_000;

describe.each(['memory', 'dynalite'] as const)('drill records in the %s store', (store) => {
  let dynamo: LocalDynamo | undefined;
  let data: MonitorData;
  beforeAll(async () => {
    if (store === 'dynalite') {
      dynamo = await startDynalite('walwatch-drills');
      data = createDynamoMonitorData(dynamo.db, dynamo.table);
    } else {
      data = createMemoryMonitorData(new Map());
    }
  });
  afterAll(async () => {
    await dynamo?.stop();
  });

  it('returns a stored drill as it was written', async () => {
    const record = drillRecord('spilo/one/wal/15', START, 'mismatch');
    await data.putDrill(record);
    expect(await data.listDrills('spilo/one/wal/15')).toEqual([record]);
    expect(await data.listDrills('spilo/other/wal/15')).toEqual([]);
  });

  it('lists a cluster’s drills newest first and keeps only the newest DRILL_HISTORY', async () => {
    const cluster = 'spilo/busy/wal/16';
    // Written out of order: the history orders by start time, not by write.
    const starts = Array.from({ length: DRILL_HISTORY + 5 }, (_, i) => START + i * HOUR).reverse();
    for (const at of [...starts.slice(10), ...starts.slice(0, 10)])
      await data.putDrill(drillRecord(cluster, at, at % (3 * HOUR) === 0 ? 'failed' : 'verified'));
    const kept = await data.listDrills(cluster);
    expect(kept).toHaveLength(DRILL_HISTORY);
    expect(kept.map((drill) => Date.parse(drill.startedAt))).toEqual(starts.slice(0, DRILL_HISTORY));
    expect((await data.listDrills(cluster, 3)).map((drill) => drill.startedAt)).toEqual(
      kept.slice(0, 3).map((drill) => drill.startedAt),
    );
  });

  it('replaces a drill written twice with the same start time', async () => {
    const cluster = 'spilo/twice/wal/15';
    await data.putDrill(drillRecord(cluster, START, 'failed'));
    await data.putDrill(drillRecord(cluster, START, 'verified'));
    expect((await data.listDrills(cluster)).map((drill) => drill.verdict)).toEqual(['verified']);
  });

  it('keeps clusters whose ids share a prefix apart', async () => {
    await data.putDrill(drillRecord('spilo/a', START));
    await data.putDrill(drillRecord('spilo/a/b', START + HOUR));
    expect((await data.listDrills('spilo/a')).map((drill) => drill.cluster)).toEqual(['spilo/a']);
    expect((await data.listDrills('spilo/a/b')).map((drill) => drill.cluster)).toEqual(['spilo/a/b']);
  });
});

describe('putDrillRecord', () => {
  let dynamo: LocalDynamo;
  beforeAll(async () => {
    dynamo = await startDynalite('walwatch-drill-items');
  });
  afterAll(async () => {
    await dynamo.stop();
  });

  it('stores one item per drill, with the end of a long PostgreSQL log', async () => {
    const log = `${'LOG:  restored log file\n'.repeat(2000)}FATAL:  the last line`;
    const record = drillRecord('spilo/logs/wal/15', START, 'failed', { logTail: log });
    await putDrillRecord(dynamo.db, dynamo.table, record);
    const { Item } = await dynamo.db.send(
      new GetCommand({ TableName: dynamo.table, Key: { pk: drillKey(record.cluster, record.startedAt) } }),
    );
    expect(Item?.gc).toBe('d#spilo/logs/wal/15');
    const stored = Item?.drill as typeof record;
    expect(stored.logTail?.length).toBe(MAX_STORED_LOG_TAIL);
    expect(stored.logTail?.endsWith('FATAL:  the last line')).toBe(true);
    expect(stored.verdict).toBe('failed');
  });

  it('refuses a record whose start time is not a time', async () => {
    await expect(
      putDrillRecord(
        dynamo.db,
        dynamo.table,
        drillRecord('spilo/x', START, 'verified', { startedAt: 'soon' }),
      ),
    ).rejects.toThrow(/startedAt must be an ISO time, got soon/);
  });
});
