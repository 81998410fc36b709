import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../../shared/config/env.js';
import { DrillTaskConfigError, readDrillTaskConfig, runDrillTask } from '../../../shared/drill/drill-task.js';
import type { RunDrillOptions } from '../../../shared/drill/run-drill.js';
import { listDrillRecords, putDrillRecord } from '../../../shared/store/drill-items.js';
import { drillRecord } from '../../support/drill-records.js';
import { type LocalDynamo, startDynalite } from '../../support/dynalite.js';

const START = Date.parse('2026-12-03T03:00:00Z');
const ENVIRONMENT = {
  [ENV.tableName]: 'walwatch',
  [ENV.archiveBucketName]: 'wal-bucket',
  [ENV.drillTargets]: 'spilo/a/wal/17, spilo/big/wal/17',
  [ENV.segmentSize]: '16MiB; 64MiB=spilo/big/*',
  WALWATCH_PG_BIN: '/usr/lib/postgresql/17/bin',
};

describe('readDrillTaskConfig', () => {
  it('reads the clusters, target, segment sizes and binaries of the task', () => {
    const config = readDrillTaskConfig(ENVIRONMENT);
    expect(config).toMatchObject({
      tableName: 'walwatch',
      bucket: 'wal-bucket',
      clusters: ['spilo/a/wal/17', 'spilo/big/wal/17'],
      target: 'latest',
      pgBin: '/usr/lib/postgresql/17/bin',
    });
    expect(config.segmentSizeOf('spilo/big/wal/17')).toBe(64 * 1024 * 1024);
  });

  it.each([
    [ENV.drillTargets, ' , ', `${ENV.drillTargets} names no cluster`],
    [ENV.tableName, '', `${ENV.tableName} is not set`],
    [ENV.segmentSize, '3MiB', ENV.segmentSize],
  ])('refuses %s=%j with a message naming it', (name, value, message) => {
    expect(() => readDrillTaskConfig({ ...ENVIRONMENT, [name]: value })).toThrow(DrillTaskConfigError);
    expect(() => readDrillTaskConfig({ ...ENVIRONMENT, [name]: value })).toThrow(message);
  });
});

describe('runDrillTask', () => {
  let dynamo: LocalDynamo;
  beforeAll(async () => {
    dynamo = await startDynalite('walwatch-drill-task');
  });
  afterAll(async () => {
    await dynamo.stop();
  });

  it('drills each cluster in turn against the bucket and stores every record, a drill that cannot run as failed', async () => {
    const config = readDrillTaskConfig({ ...ENVIRONMENT, [ENV.drillTarget]: '2026-12-03T02:00:00Z' });
    const asked: RunDrillOptions[] = [];
    let running = 0;
    let clock = START;
    const records = await runDrillTask(config, {
      runDrill: async (options) => {
        running += 1;
        expect(running).toBe(1);
        asked.push(options);
        clock += 60_000;
        running -= 1;
        if (options.cluster === 'spilo/big/wal/17') throw new Error('no space left on device');
        return drillRecord(options.cluster, clock - 60_000, 'verified', {
          target: options.target ?? 'latest',
        });
      },
      putDrill: (record) => putDrillRecord(dynamo.db, dynamo.table, record),
      now: () => clock,
      log: () => undefined,
    });
    expect(
      asked.map(({ archive, cluster, target, segmentSize, pgBin }) => ({
        archive,
        cluster,
        target,
        segmentSize,
        pgBin,
      })),
    ).toEqual([
      {
        archive: { kind: 's3', bucket: 'wal-bucket', prefix: '' },
        cluster: 'spilo/a/wal/17',
        target: '2026-12-03T02:00:00Z',
        segmentSize: 16 * 1024 * 1024,
        pgBin: '/usr/lib/postgresql/17/bin',
      },
      {
        archive: { kind: 's3', bucket: 'wal-bucket', prefix: '' },
        cluster: 'spilo/big/wal/17',
        target: '2026-12-03T02:00:00Z',
        segmentSize: 64 * 1024 * 1024,
        pgBin: '/usr/lib/postgresql/17/bin',
      },
    ]);
    expect(records.map((r) => r.verdict)).toEqual(['verified', 'failed']);
    expect(await listDrillRecords(dynamo.db, dynamo.table, 'spilo/a/wal/17')).toEqual([records[0]]);
    const [failed] = await listDrillRecords(dynamo.db, dynamo.table, 'spilo/big/wal/17');
    expect(failed).toMatchObject({
      verdict: 'failed',
      target: '2026-12-03T02:00:00Z',
      reason: 'the drill could not run: no space left on device',
    });
  });
});
