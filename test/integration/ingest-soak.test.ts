/**
 * The event pipeline's central promise: whatever order, duplication and concurrency the events arrive
 * with, and whatever DynamoDB throttles, the stored state equals the analysis of a full listing.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeCluster } from '../../shared/core/analyze.js';
import { MemoryArchive } from '../../shared/core/memory-archive.js';
import { buildClusterStates } from '../../shared/core/state.js';
import { ingestMessages } from '../../shared/events/ingest-messages.js';
import { getClusterStateWithParts } from '../../shared/store/cluster-states.js';
import type { FoldDependencies } from '../../shared/store/fold-events.js';
import { type LocalDynamo, startDynalite } from '../support/dynalite.js';
import {
  createRandom,
  type GeneratedArchive,
  generateArchive,
  listFinalObjects,
  SEGMENT_SIZE,
  scrambleDelivery,
} from '../support/generated-archive.js';
import { notificationBody } from '../support/s3-notification-body.js';
import { deliverMessages } from '../support/sqs-delivery.js';

const BUCKET = 'walwatch-archive';
const CLUSTERS = ['spilo/superman/wal/15', 'spilo/ümlaut scope/7f3a/wal/16'];

let dynamo: LocalDynamo;
let tables = 0;

beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo?.stop();
});

/** Delivers the archive's events scrambled through 8 workers and returns the table they were folded into. */
async function deliver(
  archive: GeneratedArchive,
  seed: number,
  db: DynamoDBDocumentClient,
): Promise<{ table: string; deadLetters: number; redeliveries: number }> {
  const table = await dynamo.createTable(`soak-${tables++}`);
  const deps: FoldDependencies = {
    db,
    table,
    segmentSizeOf: () => SEGMENT_SIZE,
    readDocument: async (key) => {
      const text = archive.texts.get(key);
      return text === undefined ? { error: 'object was gone when read' } : { text };
    },
  };
  const bodies = scrambleDelivery(archive.events, seed, 24, 0.05).map((event) =>
    notificationBody(BUCKET, event),
  );
  const report = await deliverMessages(bodies, {
    workers: 8,
    batchSize: 10,
    maxReceiveCount: 12,
    invoke: async (event) => {
      const ingested = await ingestMessages(deps, BUCKET, event.Records);
      return {
        batchItemFailures: ingested.failures.map((failure) => ({ itemIdentifier: failure.messageId })),
      };
    },
  });
  return { table, deadLetters: report.deadLetters.length, redeliveries: report.redeliveries };
}

async function expectStateOfListing(archive: GeneratedArchive, table: string): Promise<void> {
  const expected = buildClusterStates(
    listFinalObjects(archive.events),
    (key) => {
      const text = archive.texts.get(key);
      return text === undefined ? undefined : { text };
    },
    () => SEGMENT_SIZE,
  );
  expect([...expected.keys()].sort()).toEqual([...CLUSTERS].sort());
  for (const [clusterId, state] of expected) {
    const stored = await getClusterStateWithParts(dynamo.db, table, clusterId);
    expect(stored, clusterId).toBeDefined();
    expect(stored?.state).toEqual(state);
    const now = archive.end;
    expect(analyzeCluster(stored?.state ?? state, { now })).toEqual(analyzeCluster(state, { now }));
  }
}

describe('foldEvents through SQS-like delivery', () => {
  it('stores the state of a full listing for any shuffle, 5 % duplicates and 8 concurrent workers', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), async (seed) => {
        const archive = generateArchive(seed, {
          clusters: CLUSTERS,
          segments: 40,
          timelineSwitch: seed % 3 !== 0,
        });
        const { table, deadLetters } = await deliver(archive, seed, dynamo.db);
        expect(deadLetters).toBe(0);
        await expectStateOfListing(archive, table);
      }),
      { numRuns: 8 },
    );
  }, 90_000);

  it('agrees with the in-memory reference folding the same scrambled events', async () => {
    const seed = 4242;
    const archive = generateArchive(seed, { clusters: CLUSTERS, segments: 30, timelineSwitch: true });
    const { table } = await deliver(archive, seed, dynamo.db);
    const memory = new MemoryArchive(() => SEGMENT_SIZE);
    for (const event of scrambleDelivery(archive.events, seed + 1, 50, 0.05)) {
      const text = archive.texts.get(event.key);
      memory.apply(event, text === undefined ? undefined : { text });
    }
    for (const [clusterId, state] of memory.states) {
      expect((await getClusterStateWithParts(dynamo.db, table, clusterId))?.state).toEqual(state);
    }
  });

  it('loses nothing when DynamoDB throttles requests and batches are redelivered', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), async (seed) => {
        const archive = generateArchive(seed, { clusters: CLUSTERS, segments: 30, timelineSwitch: true });
        const throttled = dynamo.client({ maxAttempts: 1 });
        const random = createRandom(seed);
        let injected = 0;
        throttled.middlewareStack.add(
          (next) => async (args) => {
            // Before the SDK's retry step: the failure reaches the fold, which fails the messages for redelivery.
            if (random() < 0.04) {
              injected += 1;
              throw Object.assign(new Error('Rate of requests exceeds the allowed throughput.'), {
                name: 'ProvisionedThroughputExceededException',
                $metadata: { httpStatusCode: 400 },
              });
            }
            return next(args);
          },
          { step: 'initialize', name: 'injectThrottling' },
        );
        const { table, deadLetters, redeliveries } = await deliver(archive, seed, throttled);
        expect(injected).toBeGreaterThan(0);
        expect(redeliveries).toBeGreaterThan(0);
        expect(deadLetters).toBe(0);
        await expectStateOfListing(archive, table);
      }),
      { numRuns: 4 },
    );
  }, 90_000);
});
