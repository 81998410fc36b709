/**
 * The API and sweeper Lambda handlers end to end against dynalite. SNS is mocked with aws-sdk-client-mock:
 * no local server here speaks SNS for the SDK besides moto, and the assertion is on the exact message.
 */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { APIGatewayProxyEventV2WithIAMAuthorizer, Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ENV } from '../../shared/config/env.js';
import { buildClusterStates } from '../../shared/core/state.js';
import { putClusterState } from '../../shared/store/cluster-states.js';
import { contentLookup, generateArchive } from '../support/archive-generator.js';
import { type LocalDynamo, startDynalite } from '../support/dynalite.js';
import { stubLocalAwsEnv } from '../support/local-aws-env.js';

const MIB = 1024 * 1024;
const CLUSTER = 'spilo/superman/wal/15';
const sns = mockClient(SNSClient);
let dynamo: LocalDynamo;

beforeAll(async () => {
  dynamo = await startDynalite('walwatch-handlers');
  vi.stubEnv(ENV.tableName, dynamo.table);
  vi.stubEnv(ENV.alertTopicArn, 'arn:aws:sns:eu-central-1:123456789012:walwatch-alerts');
  vi.stubEnv(ENV.apiUrl, 'https://abc.execute-api.eu-central-1.amazonaws.com');
  vi.stubEnv(ENV.archiveBucketName, 'wal-bucket');
  // No S3 here: segment content reading is covered by the local-monitor end-to-end test.
  vi.stubEnv(ENV.readContent, 'false');
  stubLocalAwsEnv({ dynamo });
  // An archive whose newest segment is old: the sweep must find it stale.
  const objects = generateArchive({
    clusterId: CLUSTER,
    segmentSize: 16 * MIB,
    segments: 12,
    switches: [],
    backups: [1],
    startAt: Date.now() - 3 * 3_600_000,
  });
  const [state] = buildClusterStates(objects, contentLookup(objects), () => 16 * MIB).values();
  await putClusterState(dynamo.db, dynamo.table, state as NonNullable<typeof state>, 0);
});

afterAll(async () => {
  vi.unstubAllEnvs();
  sns.restore();
  await dynamo.stop();
});

const context = {
  functionName: 'walwatch-sweeper',
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;

describe('sweeper handler', () => {
  it('publishes the stale-archive alert to SNS once and emits EMF metrics per cluster and for the fleet', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const lines: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const { handler } = await import('../../functions/sweeper.js');
    try {
      await handler({}, context);
      await handler({}, context);
    } finally {
      write.mockRestore();
    }
    const published = sns.commandCalls(PublishCommand).map((call) => call.args[0].input);
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({
      TopicArn: 'arn:aws:sns:eu-central-1:123456789012:walwatch-alerts',
      Subject: `[walwatch] CRITICAL ${CLUSTER}: archive-stale wal`,
    });
    expect(published[0]?.Message).toContain(
      'Report: https://abc.execute-api.eu-central-1.amazonaws.com/clusters/spilo%2Fsuperman%2Fwal%2F15',
    );

    const emf = lines
      .flatMap((line) => line.split('\n'))
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line));
    const perCluster = emf.find((doc) => doc.Cluster === CLUSTER);
    expect(perCluster).toMatchObject({
      ArchiveAgeSeconds: expect.any(Number),
      LostGapSegments: 0,
      CriticalProblems: 1,
    });
    expect(perCluster.ArchiveAgeSeconds).toBeGreaterThan(2 * 3600);
    const fleet = emf.find((doc) => doc.Cluster === undefined && doc.SweeperRuns !== undefined);
    expect(fleet).toMatchObject({ ArchiveAgeSeconds: perCluster.ArchiveAgeSeconds, SweeperRuns: 1 });
    expect(fleet._aws.CloudWatchMetrics[0].Namespace).toBe('walwatch');
  });
});

describe('api handler', () => {
  function event(path: string, method = 'GET'): APIGatewayProxyEventV2WithIAMAuthorizer {
    return {
      version: '2.0',
      routeKey: '$default',
      rawPath: path,
      rawQueryString: '',
      headers: { host: 'abc.execute-api.eu-central-1.amazonaws.com' },
      isBase64Encoded: false,
      requestContext: {
        accountId: '123456789012',
        apiId: 'abc',
        domainName: 'abc.execute-api.eu-central-1.amazonaws.com',
        domainPrefix: 'abc',
        http: { method, path, protocol: 'HTTP/1.1', sourceIp: '10.0.0.1', userAgent: 'test' },
        requestId: 'r',
        routeKey: '$default',
        stage: '$default',
        time: '24/Nov/2026:15:00:00 +0000',
        timeEpoch: Date.now(),
        authorizer: { iam: { userArn: 'arn:aws:iam::123456789012:user/dba' } },
      },
    } as unknown as APIGatewayProxyEventV2WithIAMAuthorizer;
  }

  it('serves a cluster report through API Gateway with the id URL-encoded in the path', async () => {
    const { handler } = await import('../../functions/api.js');
    const response = (await handler(
      event(`/clusters/${encodeURIComponent(CLUSTER)}/recoverable-point`) as never,
      context,
    )) as {
      statusCode: number;
      body: string;
    };
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({
      latestRecoverable: { segment: '00000001000000000000000C', lsn: '0/D000000' },
    });
  });

  it('answers an unknown cluster with a JSON 404', async () => {
    const { handler } = await import('../../functions/api.js');
    const response = (await handler(event('/clusters/nope') as never, context)) as {
      statusCode: number;
      body: string;
    };
    expect(response.statusCode).toBe(404);
    expect(JSON.parse(response.body)).toMatchObject({ error: { code: 'not-found' } });
  });
});
