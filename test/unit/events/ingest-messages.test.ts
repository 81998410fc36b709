/**
 * ingestMessages: which messages of a batch fail, what is counted, and how redeliveries are folded —
 * against dynalite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectEvent } from '../../../shared/core/facts.js';
import { ingestMessages } from '../../../shared/events/ingest-messages.js';
import type { FoldDependencies } from '../../../shared/store/fold-events.js';
import { type LocalDynamo, startDynalite } from '../../support/dynalite.js';
import { notificationBody } from '../../support/s3-notification-body.js';

const BUCKET = 'archive';
const segment: ObjectEvent = {
  key: 'spilo/ingest/wal/15/wal_005/000000010000000000000001.lz4',
  type: 'created',
  at: 1_800_000_000_000,
  size: 100,
  etag: 'a',
  sequencer: '01',
};

let dynamo: LocalDynamo;
let tables = 0;

beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo?.stop();
});

async function createDeps(): Promise<FoldDependencies> {
  return {
    db: dynamo.db,
    table: await dynamo.createTable(`ingest-${tables++}`),
    segmentSizeOf: () => 16 * 1024 * 1024,
    readDocument: async () => ({ error: 'no documents here' }),
  };
}

describe('ingestMessages', () => {
  it('fails only the bad messages of a batch and folds the rest', async () => {
    const deps = await createDeps();
    const report = await ingestMessages(deps, BUCKET, [
      { messageId: 'good', body: notificationBody(BUCKET, segment) },
      { messageId: 'test', body: JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent' }) },
      { messageId: 'garbage', body: 'not json' },
      { messageId: 'foreign', body: notificationBody('other-bucket', segment) },
    ]);
    expect(report.failures.map((failure) => [failure.messageId, failure.kind])).toEqual([
      ['garbage', 'invalid-message'],
      ['foreign', 'invalid-message'],
    ]);
    expect(report.counts).toMatchObject({
      messages: 4,
      events: 1,
      testEvents: 1,
      invalidMessages: 2,
      failedMessages: 2,
      changed: 1,
      stateWrites: 1,
    });
  });

  it('folds a duplicate without writing, and a redelivery with a state write that repairs a crash', async () => {
    const deps = await createDeps();
    const body = notificationBody(BUCKET, segment);
    await ingestMessages(deps, BUCKET, [{ messageId: 'first', body }]);
    const duplicate = await ingestMessages(deps, BUCKET, [{ messageId: 'copy', body }]);
    expect(duplicate.counts).toMatchObject({ unchanged: 1, factWrites: 0, stateWrites: 0 });
    const redelivery = await ingestMessages(deps, BUCKET, [
      { messageId: 'first', body, attributes: { ApproximateReceiveCount: '2' } },
    ]);
    expect(redelivery.counts).toMatchObject({ unchanged: 1, factWrites: 0, stateWrites: 1 });
  });
});
