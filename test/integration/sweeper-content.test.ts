/**
 * The sweeper Lambda handler with `WALWATCH_READ_CONTENT=all`: segments in moto's S3, facts and states in
 * dynalite, folded by the same code as ingest. One run reads every segment, stores the summaries, records
 * the corrupt one in the cluster state and alerts about it. SNS is mocked with aws-sdk-client-mock (the
 * assertion is on the exact message); S3 and DynamoDB are real local servers.
 */
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ENV } from '../../shared/config/env.js';
import { walFileName } from '../../shared/core/lsn.js';
import { getClusterState } from '../../shared/store/cluster-states.js';
import { foldEvents } from '../../shared/store/fold-events.js';
import { getSegmentSummary } from '../../shared/store/segment-summaries.js';
import { type LocalDynamo, startDynalite } from '../support/dynalite.js';
import { stubLocalAwsEnv } from '../support/local-aws-env.js';
import { type LocalMoto, motoAvailable, startMoto } from '../support/moto.js';
import { buildSwitchSegment, SWITCH_RECORD_INFO_OFFSET } from '../support/wal-builder.js';

const CLUSTER = 'spilo/content/wal/15';
const BUCKET = 'wal-content-bucket';
const SEGMENT_SIZE = 1024 * 1024;
const SYSTEM_ID = 7_400_000_000_000_000_002n;
const sns = mockClient(SNSClient);

describe.skipIf(!motoAvailable())('sweeper handler reading every segment', () => {
  let dynamo: LocalDynamo;
  let moto: LocalMoto;

  beforeAll(async () => {
    [dynamo, moto] = await Promise.all([startDynalite('walwatch-content'), startMoto()]);
    await moto.s3.send(
      new CreateBucketCommand({
        Bucket: BUCKET,
        CreateBucketConfiguration: { LocationConstraint: 'eu-central-1' },
      }),
    );
    const now = Date.now();
    const events = [];
    for (let segno = 1; segno <= 6; segno++) {
      const body = buildSwitchSegment(segno, SEGMENT_SIZE, SYSTEM_ID);
      if (segno === 4) body[SWITCH_RECORD_INFO_OFFSET] = 0x41;
      const key = `${CLUSTER}/wal_005/${walFileName(1, segno, SEGMENT_SIZE)}`;
      const put = await moto.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
      events.push({
        id: key,
        event: {
          key,
          type: 'created' as const,
          at: now - (7 - segno) * 60_000,
          sequencer: `0${segno}`,
          size: body.length,
          etag: put.ETag ?? null,
        },
      });
    }
    // A base backup of segment 1, consistent in segment 2: recovery needs every segment after it.
    const sentinel = `${CLUSTER}/basebackups_005/base_000000010000000000000001_backup_stop_sentinel.json`;
    events.push({
      id: sentinel,
      event: {
        key: sentinel,
        type: 'created' as const,
        at: now - 6 * 60_000,
        sequencer: '10',
        size: 60,
        etag: '"s"',
      },
    });
    const folded = await foldEvents(
      {
        db: dynamo.db,
        table: dynamo.table,
        segmentSizeOf: () => SEGMENT_SIZE,
        readDocument: async () => ({
          text: `{"LSN":${SEGMENT_SIZE + 40},"FinishLSN":${2 * SEGMENT_SIZE + 80}}`,
        }),
      },
      events,
    );
    expect(folded.failures.size).toBe(0);

    vi.stubEnv(ENV.tableName, dynamo.table);
    vi.stubEnv(ENV.archiveBucketName, BUCKET);
    vi.stubEnv(ENV.alertTopicArn, 'arn:aws:sns:eu-central-1:123456789012:walwatch-alerts');
    vi.stubEnv(ENV.readContent, 'all');
    vi.stubEnv(ENV.segmentSize, String(SEGMENT_SIZE));
    stubLocalAwsEnv({ dynamo, moto });
  }, 60_000);

  afterAll(async () => {
    vi.unstubAllEnvs();
    sns.restore();
    await Promise.all([dynamo?.stop(), moto?.stop()]);
  });

  it('summarizes each segment, records the corrupt one, and alerts about it once', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const context = {
      functionName: 'walwatch-sweeper',
      awsRequestId: 'req-1',
      getRemainingTimeInMillis: () => 50_000,
    } as unknown as Context;
    const { handler } = await import('../../functions/sweeper.js');
    try {
      await handler({}, context);
      await handler({}, context);
    } finally {
      write.mockRestore();
    }

    const state = (await getClusterState(dynamo.db, dynamo.table, CLUSTER))?.state;
    expect(Object.keys(state?.defects ?? {})).toEqual(['1:4']);
    expect(state?.defects?.['1:4']).toMatchObject({
      kind: 'corrupt',
      key: 'wal_005/000000010000000000000004',
    });
    for (let segno = 1; segno <= 6; segno++) {
      const stored = await getSegmentSummary(
        dynamo.db,
        dynamo.table,
        CLUSTER,
        walFileName(1, segno, SEGMENT_SIZE),
      );
      expect(stored?.summary?.systemIdentifier, String(segno)).toBe(SYSTEM_ID.toString());
      expect(stored?.defect === null, String(segno)).toBe(segno !== 4);
    }
    const published = sns.commandCalls(PublishCommand).map((call) => call.args[0].input);
    const corrupt = published.filter((message) => message.Subject?.includes('wal-corrupt'));
    expect(corrupt).toHaveLength(1);
    expect(corrupt[0]?.Subject).toBe(`[walwatch] CRITICAL ${CLUSTER}: wal-corrupt 000000010000000000000004`);
    expect(corrupt[0]?.Message).toContain('archive that good copy again with wal-g wal-push');
  }, 60_000);
});
