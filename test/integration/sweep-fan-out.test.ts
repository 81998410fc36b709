/**
 * The sweeper's fan-out end to end: the sweeper Lambda handler over dynalite sends shards of a fleet to a
 * queue in moto, the sweep worker handler sweeps the messages received from it (each delivered twice), and
 * the EMF documents on stdout carry the selected clusters' own metrics and the shards' fleet metrics. SNS is
 * mocked with aws-sdk-client-mock: the assertion is on the exact messages, and moto's SNS keeps none to read.
 */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { CreateQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ENV } from '../../shared/config/env.js';
import { buildClusterStates } from '../../shared/core/state.js';
import { putClusterState } from '../../shared/store/cluster-states.js';
import { contentLookup, generateArchive } from '../support/archive-generator.js';
import { type LocalDynamo, startDynalite } from '../support/dynalite.js';
import { stubLocalAwsEnv } from '../support/local-aws-env.js';
import { type LocalMoto, motoAvailable, startMoto } from '../support/moto.js';

const MIB = 1024 * 1024;
const HOUR = 3_600_000;
const sns = mockClient(SNSClient);
const hasMoto = motoAvailable();
let dynamo: LocalDynamo;
let moto: LocalMoto;
let queueUrl: string;

/** Five clusters: c0, c2 and c4 stopped archiving three hours ago, c1 and c3 archive now. */
const CLUSTERS = [0, 1, 2, 3, 4].map((n) => ({ id: `fleet/c${n}/wal/15`, stale: n % 2 === 0 }));

beforeAll(async () => {
  if (!hasMoto) return;
  [dynamo, moto] = await Promise.all([startDynalite('walwatch-fan-out'), startMoto()]);
  queueUrl = (await moto.sqs.send(new CreateQueueCommand({ QueueName: 'sweep-shards' }))).QueueUrl as string;
  stubLocalAwsEnv({ dynamo, moto });
  vi.stubEnv('AWS_ENDPOINT_URL_SQS', moto.endpoint);
  vi.stubEnv(ENV.tableName, dynamo.table);
  vi.stubEnv(ENV.alertTopicArn, 'arn:aws:sns:eu-central-1:123456789012:walwatch-alerts');
  vi.stubEnv(ENV.readContent, 'off');
  vi.stubEnv(ENV.sweepQueueUrl, queueUrl);
  vi.stubEnv(ENV.sweepFanOutAbove, '2');
  vi.stubEnv(ENV.sweepShardSize, '2');
  vi.stubEnv(ENV.clusterMetrics, 'off; on=fleet/c0/*');
  for (const cluster of CLUSTERS) {
    const objects = generateArchive({
      clusterId: cluster.id,
      segmentSize: 16 * MIB,
      segments: 12,
      switches: [],
      backups: [1],
      startAt: Date.now() - (cluster.stale ? 3 * HOUR : 12 * 60_000),
    });
    const [state] = buildClusterStates(objects, contentLookup(objects), () => 16 * MIB).values();
    await putClusterState(dynamo.db, dynamo.table, state as NonNullable<typeof state>, 0);
  }
}, 60_000);

afterAll(async () => {
  vi.unstubAllEnvs();
  sns.restore();
  await Promise.all([dynamo?.stop(), moto?.stop()]);
});

const context = {
  functionName: 'walwatch',
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;

/** Runs `work` and returns the EMF documents it wrote to stdout. */
async function emfOf(work: () => Promise<unknown>): Promise<Array<Record<string, unknown>>> {
  const lines: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    await work();
  } finally {
    write.mockRestore();
  }
  return lines
    .flatMap((line) => line.split('\n'))
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe.skipIf(!hasMoto)('sweeper fan-out', () => {
  it('sends shards to the queue, and the worker alerts once per cluster however often a shard is delivered', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const { handler: sweeper } = await import('../../functions/sweeper.js');
    const { handler: worker } = await import('../../functions/sweep-worker.js');

    const planned = await emfOf(async () => {
      expect(await sweeper({}, context)).toEqual({ clusters: 5, sent: 0 });
    });
    expect(planned.find((doc) => doc.SweeperRuns !== undefined)).toMatchObject({
      SweeperRuns: 1,
      SweepShards: 3,
    });
    expect(planned.some((doc) => doc.Cluster !== undefined)).toBe(false);

    const received = await moto.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    const event: SQSEvent = {
      Records: (received.Messages ?? []).map((message) => ({
        messageId: message.MessageId as string,
        receiptHandle: message.ReceiptHandle as string,
        body: message.Body as string,
        attributes: {} as SQSEvent['Records'][number]['attributes'],
        messageAttributes: {},
        md5OfBody: message.MD5OfBody as string,
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:eu-central-1:123456789012:sweep-shards',
        awsRegion: 'eu-central-1',
      })),
    };
    expect(event.Records.map((r) => JSON.parse(r.body).clusters)).toEqual([
      ['fleet/c0/wal/15', 'fleet/c1/wal/15'],
      ['fleet/c2/wal/15', 'fleet/c3/wal/15'],
      ['fleet/c4/wal/15'],
    ]);

    // Each shard in its own invocation, every invocation twice: SQS may deliver a message again.
    const swept = await emfOf(async () => {
      const responses = await Promise.all(
        [...event.Records, ...event.Records].map((record) => worker({ Records: [record] }, context)),
      );
      expect(responses.every((response) => response?.batchItemFailures.length === 0)).toBe(true);
    });
    const subjects = sns
      .commandCalls(PublishCommand)
      .map((call) => call.args[0].input.Subject)
      .sort();
    expect(subjects).toEqual(
      ['fleet/c0/wal/15', 'fleet/c2/wal/15', 'fleet/c4/wal/15'].map(
        (id) => `[walwatch] CRITICAL ${id}: archive-stale wal`,
      ),
    );

    // Only c0 has metrics of its own; every shard's delivery emits its fleet metrics.
    expect(new Set(swept.map((doc) => doc.Cluster).filter((c) => c !== undefined))).toEqual(
      new Set(['fleet/c0/wal/15']),
    );
    const fleet = swept.filter((doc) => doc.Cluster === undefined && doc.ClustersCritical !== undefined);
    expect(fleet).toHaveLength(6);
    const sum = (name: string) => fleet.reduce((total, doc) => total + (doc[name] as number), 0);
    expect({
      critical: sum('ClustersCritical'),
      warning: sum('ClustersWarning'),
      ok: sum('ClustersOk'),
    }).toEqual({
      critical: 6,
      warning: 0,
      ok: 4,
    });
    const definition = (
      (fleet[0] as { _aws: unknown })._aws as {
        CloudWatchMetrics: Array<{
          Namespace: string;
          Dimensions: string[][];
          Metrics: Array<{ Name: string; Unit: string }>;
        }>;
      }
    ).CloudWatchMetrics[0];
    expect(definition?.Namespace).toBe('walwatch');
    expect(definition?.Dimensions).toEqual([['service']]);
    expect(definition?.Metrics).toEqual(
      expect.arrayContaining([
        { Name: 'ClustersCritical', Unit: 'Count' },
        { Name: 'ClustersWarning', Unit: 'Count' },
        { Name: 'ClustersOk', Unit: 'Count' },
        { Name: 'ArchiveAgeSeconds', Unit: 'Seconds' },
      ]),
    );
  }, 60_000);

  it('drops a shard planned too long ago: the next sweep covers its clusters', async () => {
    const { handler: worker } = await import('../../functions/sweep-worker.js');
    const before = sns.commandCalls(PublishCommand).length;
    const body = JSON.stringify({
      plannedAt: Date.now() - 10 * 60_000,
      shard: 0,
      shards: 1,
      fleetSize: 1,
      clusters: ['fleet/c0/wal/15'],
    });
    const response = await worker(
      { Records: [{ messageId: 'old', body } as SQSEvent['Records'][number]] },
      context,
    );
    expect(response?.batchItemFailures).toEqual([]);
    expect(sns.commandCalls(PublishCommand).length).toBe(before);
  });

  it('fails a malformed shard message so it reaches the dead-letter queue', async () => {
    const { handler: worker } = await import('../../functions/sweep-worker.js');
    const response = await worker(
      { Records: [{ messageId: 'bad', body: '{"clusters": 3}' } as SQSEvent['Records'][number]] },
      context,
    );
    expect(response?.batchItemFailures).toEqual([{ itemIdentifier: 'bad' }]);
  });
});
