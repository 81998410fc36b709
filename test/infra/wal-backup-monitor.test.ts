import { readdirSync, readFileSync } from 'node:fs';
import { Duration, Size, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { CfnRole } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { FLEET_ACCESS, TABLE_ACCESS } from '../../infra/constructs/monitor-grants.js';
import { WalArchiveBucket, WalArchiveEncryption } from '../../infra/constructs/wal-archive-bucket.js';
import {
  WalBackupMonitor,
  WalBackupMonitorError,
  type WalBackupMonitorProps,
} from '../../infra/constructs/wal-backup-monitor.js';
import type { WalwatchFunction } from '../../infra/constructs/walwatch-function.js';
import { ENV } from '../../shared/config/env.js';
import { describeTable } from '../../shared/store/table.js';
import { SYNTH_TIMEOUT_MS, testApp } from './support.js';

const ROOTS = ['spilo/demo/wal/16/', 'spilo/demo/wal/17/'];

interface Built {
  readonly stack: Stack;
  readonly archive: WalArchiveBucket;
  readonly monitor: WalBackupMonitor;
  readonly template: Template;
}

function build(
  overrides: Partial<WalBackupMonitorProps> = {},
  encryption: WalArchiveEncryption = WalArchiveEncryption.KMS,
): Built {
  const stack = new Stack(testApp(), 'Test', { env: { account: '111111111111', region: 'eu-central-1' } });
  const archive = new WalArchiveBucket(stack, 'Archive', { archiveRoots: ROOTS, encryption });
  const monitor = new WalBackupMonitor(stack, 'Monitor', {
    archiveBucket: archive.bucket,
    archiveRoots: archive.archiveRoots,
    ...overrides,
  });
  archive.notifyQueue(monitor.ingestQueue);
  return { stack, archive, monitor, template: Template.fromStack(stack) };
}

interface Statement {
  readonly Sid?: string;
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
}

/** A resolved CloudFormation value as one string: `{Ref: X}` → `<X>`, `{Fn::GetAtt: [X, Arn]}` → `<X.Arn>`. */
function render(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if ('Ref' in v) return `<${String(v.Ref)}>`;
  if ('Fn::GetAtt' in v) return `<${(v['Fn::GetAtt'] as string[]).join('.')}>`;
  if ('Fn::Join' in v) {
    const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(render).join(separator);
  }
  return JSON.stringify(value);
}

function list<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}

/** Every statement of the policies attached to a function's role. */
function statementsOf(built: Built, fn: WalwatchFunction): Statement[] {
  const role = fn.function.role?.node.defaultChild as CfnRole;
  const roleId = built.stack.getLogicalId(role);
  const policies = Object.values(built.template.findResources('AWS::IAM::Policy')) as {
    Properties: { Roles: unknown[]; PolicyDocument: { Statement: Statement[] } };
  }[];
  const inline = (built.template.toJSON().Resources[roleId].Properties.Policies ?? []) as {
    PolicyDocument: { Statement: Statement[] };
  }[];
  expect(built.template.toJSON().Resources[roleId].Properties.ManagedPolicyArns).toBeUndefined();
  return [
    ...policies
      .filter((p) => p.Properties.Roles.some((r) => JSON.stringify(r) === JSON.stringify({ Ref: roleId })))
      .flatMap((p) => p.Properties.PolicyDocument.Statement),
    ...inline.flatMap((p) => p.PolicyDocument.Statement),
  ];
}

function actionsOf(statements: Statement[]): string[] {
  return [...new Set(statements.flatMap((s) => list(s.Action)))].sort();
}

function logicalId(built: Built, construct: { node: { defaultChild?: unknown } }): string {
  return built.stack.getLogicalId(construct.node.defaultChild as never);
}

const COMMON = [
  'logs:CreateLogStream',
  'logs:PutLogEvents',
  'xray:PutTelemetryRecords',
  'xray:PutTraceSegments',
];

describe('WalBackupMonitor', { timeout: SYNTH_TIMEOUT_MS }, () => {
  describe('event pipeline', () => {
    it('sends every archive notification filter to the ingest queue', () => {
      const built = build();
      const queueArn = built.stack.resolve(built.monitor.ingestQueue.queueArn);
      const [notifications] = Object.values(
        built.template.findResources('Custom::S3BucketNotifications'),
      ) as {
        Properties: {
          NotificationConfiguration: {
            QueueConfigurations: { QueueArn: unknown; Events: string[]; Filter: unknown }[];
          };
        };
      }[];
      const configs = notifications?.Properties.NotificationConfiguration.QueueConfigurations ?? [];
      expect(configs).toHaveLength(ROOTS.length * 2 * 2);
      for (const config of configs) {
        expect(config.QueueArn).toEqual(queueArn);
      }
      const prefixes = configs.map(
        (c) => (c.Filter as { Key: { FilterRules: { Value: string }[] } }).Key.FilterRules[0]?.Value,
      );
      expect(new Set(prefixes)).toEqual(
        new Set(ROOTS.flatMap((root) => [`${root}wal_005/`, `${root}basebackups_005/`])),
      );
    });

    it('lets only the archive bucket of its own account send to the queue, and S3 use the queue key', () => {
      const built = build();
      const queueId = logicalId(built, built.monitor.ingestQueue);
      const bucketId = logicalId(built, built.archive.bucket);
      const [policy] = Object.values(
        built.template.findResources('AWS::SQS::QueuePolicy', {
          Properties: { Queues: [{ Ref: queueId }] },
        }),
      ) as { Properties: { PolicyDocument: { Statement: (Statement & { Principal: unknown })[] } } }[];
      const allows = (policy?.Properties.PolicyDocument.Statement ?? []).filter((s) => s.Effect === 'Allow');
      expect(allows).toEqual([
        expect.objectContaining({
          Principal: { Service: 's3.amazonaws.com' },
          Action: 'sqs:SendMessage',
          Condition: {
            ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [bucketId, 'Arn'] } },
            StringEquals: { 'aws:SourceAccount': '111111111111' },
          },
        }),
      ]);
      const denies = (policy?.Properties.PolicyDocument.Statement ?? []).filter((s) => s.Effect === 'Deny');
      expect(denies).toEqual([
        expect.objectContaining({ Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      ]);
      built.template.hasResourceProperties('AWS::KMS::Key', {
        Description: Match.stringLikeRegexp('ingest queue'),
        EnableKeyRotation: true,
        KeyPolicy: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Principal: { Service: 's3.amazonaws.com' },
              Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
            }),
          ]),
        },
      });
    });

    it('encrypts its queues with the queue key and redrives ingest to the DLQ after 5 receives', () => {
      const built = build({ ingestTimeout: Duration.seconds(90) });
      const keyArn = built.stack.resolve(built.monitor.queueKey.keyArn);
      const dlqArn = built.stack.resolve(built.monitor.deadLetterQueue.queueArn);
      built.template.hasResourceProperties('AWS::SQS::Queue', {
        KmsMasterKeyId: keyArn,
        VisibilityTimeout: 540,
        RedrivePolicy: { deadLetterTargetArn: dlqArn, maxReceiveCount: 5 },
      });
      // Ingest and its DLQ, the sweep shards and theirs.
      built.template.resourcePropertiesCountIs('AWS::SQS::Queue', { KmsMasterKeyId: keyArn }, 4);
      built.template.hasResourceProperties('AWS::Lambda::Function', {
        Timeout: 90,
        Environment: { Variables: Match.objectLike({ [ENV.archiveRoots]: ROOTS.join(',') }) },
      });
    });

    it('reports batch item failures from the SQS event source', () => {
      const built = build();
      built.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: built.stack.resolve(built.monitor.ingestQueue.queueArn),
        FunctionName: { Ref: logicalId(built, built.monitor.functions.ingest.function) },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BatchSize: 100,
        ScalingConfig: { MaximumConcurrency: 5 },
      });
    });

    it('creates the table exactly as describeTable defines it, with PITR and encryption', () => {
      const built = build();
      const definition = describeTable('walwatch');
      const [table] = Object.values(built.template.findResources('AWS::DynamoDB::Table')) as {
        Properties: Record<string, unknown>;
        DeletionPolicy: string;
      }[];
      const sortByName = <T extends { AttributeName?: string }>(items: T[]) =>
        [...items].sort((a, b) => String(a.AttributeName).localeCompare(String(b.AttributeName)));
      expect(table?.Properties.BillingMode).toBe(definition.BillingMode);
      expect(table?.Properties.KeySchema).toEqual(definition.KeySchema);
      expect(sortByName(table?.Properties.AttributeDefinitions as [])).toEqual(
        sortByName(definition.AttributeDefinitions ?? []),
      );
      expect(table?.Properties.GlobalSecondaryIndexes).toEqual(definition.GlobalSecondaryIndexes);
      expect(table?.Properties).toMatchObject({
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        // SSE on without a key of ours = the AWS managed key (aws/dynamodb).
        SSESpecification: { SSEEnabled: true },
        DeletionProtectionEnabled: true,
      });
      expect(table?.DeletionPolicy).toBe('Retain');
    });
  });

  describe('functions', () => {
    it('builds all five through the house construct: Node.js 24, arm64, tracing, own log group', () => {
      const built = build();
      const functions = built.template.findResources('AWS::Lambda::Function', {
        Properties: { Runtime: 'nodejs24.x' },
      });
      expect(Object.keys(functions)).toHaveLength(5);
      for (const fn of Object.values(functions) as { Properties: Record<string, unknown> }[]) {
        expect(fn.Properties).toMatchObject({
          Architectures: ['arm64'],
          TracingConfig: { Mode: 'Active' },
          LoggingConfig: { LogGroup: { Ref: expect.any(String) } },
          MemorySize: expect.any(Number),
          Timeout: expect.any(Number),
        });
      }
      built.template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 90 }, 6);
    });

    it('gives the sweeper and the API the thresholds the alarms use, and the sweeper the API URL', () => {
      const built = build({ maxArchiveAge: Duration.minutes(90), maxBackupAge: Duration.hours(30) });
      const { sweeper, api } = built.monitor.functions;
      for (const fn of [sweeper, api]) {
        const resource = built.template.toJSON().Resources[logicalId(built, fn.function)];
        expect(resource.Properties.Environment.Variables).toMatchObject({
          [ENV.maxArchiveAge]: '5400s',
          [ENV.maxBackupAge]: '108000s',
          [ENV.tableName]: { Ref: logicalId(built, built.monitor.table) },
        });
      }
      const sweeperEnv =
        built.template.toJSON().Resources[logicalId(built, sweeper.function)].Properties.Environment
          .Variables;
      expect(sweeperEnv[ENV.alertTopicArn]).toEqual({ Ref: logicalId(built, built.monitor.alertTopic) });
      expect(render(sweeperEnv[ENV.apiUrl])).toMatch(/^https:\/\/<MonitorApi[0-9A-F]+>\.execute-api\./);
      built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ArchiveAgeSeconds',
        Dimensions: [{ Name: 'service', Value: 'walwatch' }],
        Threshold: 5400,
      });
    });

    it('runs the sweeper every minute and reconcile on its own schedule', () => {
      const built = build({ reconcileEvery: Duration.minutes(30) });
      built.template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'rate(1 minute)',
        Targets: [
          Match.objectLike({
            Arn: built.stack.resolve(built.monitor.functions.sweeper.function.functionArn),
          }),
        ],
      });
      built.template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'rate(30 minutes)',
        Targets: [
          Match.objectLike({
            Arn: built.stack.resolve(built.monitor.functions.reconcile.function.functionArn),
          }),
        ],
      });
    });

    it('reconciles hourly by default', () => {
      const built = build();
      built.template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'rate(1 hour)',
        Targets: [
          Match.objectLike({
            Arn: built.stack.resolve(built.monitor.functions.reconcile.function.functionArn),
          }),
        ],
      });
    });
  });

  describe('least privilege', () => {
    const documents = (bucket: string) =>
      ROOTS.flatMap((root) => [
        `${bucket}/${root}basebackups_005/*_backup_stop_sentinel.json`,
        `${bucket}/${root}basebackups_005/*/metadata.json`,
        `${bucket}/${root}wal_005/*.history*`,
      ]);

    it('with content off, lets ingest read only sentinels, metadata, histories and WAL (segment heads, backup history files), decrypt through S3, fold, move old segment items and consume', () => {
      const built = build({ segmentContent: 'off' });
      const statements = statementsOf(built, built.monitor.functions.ingest);
      expect(actionsOf(statements)).toEqual(
        [
          ...COMMON,
          's3:GetObject',
          'kms:Decrypt',
          'dynamodb:BatchGetItem',
          'dynamodb:DeleteItem',
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:Query',
          'dynamodb:UpdateItem',
          'sqs:ChangeMessageVisibility',
          'sqs:DeleteMessage',
          'sqs:GetQueueAttributes',
          'sqs:GetQueueUrl',
          'sqs:ReceiveMessage',
        ].sort(),
      );
      const bucket = `<${logicalId(built, built.archive.bucket)}.Arn>`;
      const reads = statements.filter((s) => list(s.Action).includes('s3:GetObject'));
      expect(reads.flatMap((s) => list(s.Resource).map(render)).sort()).toEqual(
        [...documents(bucket), ...ROOTS.map((root) => `${bucket}/${root}wal_005/*`)].sort(),
      );
      const deletes = statements.find((s) => list(s.Action).includes('dynamodb:DeleteItem'));
      expect(deletes?.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['s#*'] } });
      const archiveKey = statements.find((s) => s.Sid === 'DecryptArchiveThroughS3');
      expect(archiveKey?.Resource).toEqual(built.stack.resolve(built.archive.encryptionKey?.keyArn));
      expect(render(archiveKey?.Condition?.StringEquals?.['kms:ViaService'])).toBe(
        's3.eu-central-1.<AWS::URLSuffix>',
      );
      const query = statements.find((s) => list(s.Action).includes('dynamodb:Query'));
      expect(render(query?.Resource)).toBe(`<${logicalId(built, built.monitor.table)}.Arn>/index/by-cluster`);
    });

    it('lets ingest read the segments of the archive roots too when it reads chain ends (the default)', () => {
      const built = build();
      const statements = statementsOf(built, built.monitor.functions.ingest);
      const bucket = `<${logicalId(built, built.archive.bucket)}.Arn>`;
      const reads = statements.filter((s) => list(s.Action).includes('s3:GetObject'));
      expect(reads.flatMap((s) => list(s.Resource).map(render)).sort()).toEqual(
        [
          ...documents(bucket),
          ...ROOTS.map((root) => `${bucket}/${root}wal_005/*`),
          ...ROOTS.map((root) => `${bucket}/${root}wal_005/*`),
        ].sort(),
      );
      built.template.hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp('folds the archive bucket events'),
        MemorySize: 512,
        Environment: { Variables: Match.objectLike({ WALWATCH_READ_CONTENT: 'chain-ends' }) },
      });
    });

    it('follows the widest mode of a per-cluster policy for grants and memory, and passes the policy on', () => {
      const built = build({
        segmentContent: { default: 'off', clusters: [{ pattern: 'spilo/orders/*', value: 'all' }] },
        segmentSize: Size.mebibytes(1024),
      });
      const sweeper = statementsOf(built, built.monitor.functions.sweeper);
      const put = sweeper.find((s) => list(s.Action).includes('dynamodb:PutItem'));
      expect(put?.Condition).toEqual({
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['a#*', 'c#*', 'w#*', 'r#*'] },
      });
      const ingestReads = statementsOf(built, built.monitor.functions.ingest).filter((s) =>
        list(s.Action).includes('s3:GetObject'),
      );
      expect(JSON.stringify(ingestReads.map((s) => s.Resource))).toContain('wal_005/*"');
      for (const description of ['re-analyses every cluster', 'folds the archive bucket events']) {
        built.template.hasResourceProperties('AWS::Lambda::Function', {
          Description: Match.stringLikeRegexp(description),
          // A 1 GiB segment is held compressed and decompressed.
          MemorySize: 256 + 4 * 1024,
          Environment: { Variables: Match.objectLike({ WALWATCH_READ_CONTENT: 'off; all=spilo/orders/*' }) },
        });
      }
    });

    it.each([
      [
        { default: 'all' as const, clusters: [{ pattern: 'spilo/a b', value: 'off' as const }] },
        /without spaces/,
      ],
      [
        {
          default: 'all' as const,
          clusters: [
            { pattern: 'spilo/a/*', value: 'off' as const },
            { pattern: 'spilo/a/*', value: 'chain-ends' as const },
          ],
        },
        /gives spilo\/a\/\* twice/,
      ],
    ])('refuses a content policy it could not pass on: %j', (segmentContent, message) => {
      expect(() => build({ segmentContent })).toThrow(WalBackupMonitorError);
      expect(() => build({ segmentContent })).toThrow(message);
    });

    it('passes per-cluster segment sizes on in bytes and sizes the segment readers for the largest', () => {
      const built = build({
        segmentSize: {
          default: Size.mebibytes(16),
          clusters: [
            { pattern: 'spilo/big/*', value: Size.gibibytes(1) },
            { pattern: 'spilo/small/wal/16', value: Size.kibibytes(1024) },
          ],
        },
      });
      const sizes = `${16 * 1024 * 1024}; ${1024 ** 3}=spilo/big/*; ${1024 * 1024}=spilo/small/wal/16`;
      for (const description of ['folds the archive bucket events', 're-analyses every cluster']) {
        built.template.hasResourceProperties('AWS::Lambda::Function', {
          Description: Match.stringLikeRegexp(description),
          // The 1 GiB segments of spilo/big/* are held compressed and decompressed.
          MemorySize: 256 + 4 * 1024,
        });
      }
      const environments = Object.values(built.template.findResources('AWS::Lambda::Function')).map(
        (fn) => (fn as { Properties: { Environment?: { Variables?: Record<string, unknown> } } }).Properties,
      );
      const withSizes = environments.filter(
        (fn) => fn.Environment?.Variables?.[ENV.segmentSize] !== undefined,
      );
      expect(withSizes.length).toBeGreaterThanOrEqual(2);
      for (const fn of withSizes) expect(fn.Environment?.Variables?.[ENV.segmentSize]).toBe(sizes);
      built.template.hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp('folds the archive bucket events'),
        Environment: { Variables: Match.objectLike({ [ENV.segmentSize]: sizes }) },
      });
    });

    it('detects sizes by default, sizing segment readers for 64 MiB unless a larger size is set', () => {
      const auto = build();
      for (const description of ['folds the archive bucket events', 're-analyses every cluster']) {
        auto.template.hasResourceProperties('AWS::Lambda::Function', {
          Description: Match.stringLikeRegexp(description),
          MemorySize: 256 + 4 * 64,
        });
      }
      const mixed = build({
        segmentSize: { default: 'auto', clusters: [{ pattern: 'spilo/big/*', value: Size.gibibytes(1) }] },
      });
      mixed.template.hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp('folds the archive bucket events'),
        MemorySize: 256 + 4 * 1024,
        Environment: { Variables: Match.objectLike({ [ENV.segmentSize]: `auto; ${1024 ** 3}=spilo/big/*` }) },
      });
    });

    it('writes one segment size in bytes and leaves the variable out when none is given', () => {
      const one = build({ segmentSize: Size.mebibytes(64) });
      one.template.hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp('folds the archive bucket events'),
        MemorySize: 512,
        Environment: { Variables: Match.objectLike({ [ENV.segmentSize]: String(64 * 1024 * 1024) }) },
      });
      const none = build();
      none.template.hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp('folds the archive bucket events'),
        Environment: { Variables: Match.objectLike({ [ENV.segmentSize]: Match.absent() }) },
      });
    });

    it.each([
      [Size.kibibytes(1000), /segmentSize: "1024000" is not a WAL segment size/],
      [
        { default: Size.mebibytes(16), clusters: [{ pattern: 'spilo/a', value: Size.mebibytes(24) }] },
        /segmentSize: "25165824" is not a WAL segment size/,
      ],
      [
        {
          default: Size.mebibytes(16),
          clusters: [
            { pattern: 'spilo/a/*', value: Size.mebibytes(64) },
            { pattern: 'spilo/a/*', value: Size.mebibytes(32) },
          ],
        },
        /segmentSize gives spilo\/a\/\* twice/,
      ],
    ])('refuses segment sizes PostgreSQL cannot have or it could not pass on: %#', (segmentSize, message) => {
      expect(() => build({ segmentSize })).toThrow(WalBackupMonitorError);
      expect(() => build({ segmentSize })).toThrow(message);
    });

    it('lets reconcile list only the archive roots, besides what ingest may do', () => {
      const built = build();
      const statements = statementsOf(built, built.monitor.functions.reconcile);
      expect(actionsOf(statements)).toEqual(
        [
          ...COMMON,
          's3:GetObject',
          's3:ListBucket',
          'kms:Decrypt',
          'dynamodb:BatchGetItem',
          'dynamodb:DeleteItem',
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:Query',
          'dynamodb:UpdateItem',
        ].sort(),
      );
      const listing = statements.find((s) => list(s.Action).includes('s3:ListBucket'));
      expect(listing?.Resource).toEqual({ 'Fn::GetAtt': [logicalId(built, built.archive.bucket), 'Arn'] });
      expect(listing?.Condition).toEqual({ StringLike: { 's3:prefix': ROOTS.map((root) => `${root}*`) } });
    });

    it('grants no archive key when the bucket is SSE-S3', () => {
      const built = build({}, WalArchiveEncryption.S3_MANAGED);
      for (const fn of [built.monitor.functions.ingest, built.monitor.functions.reconcile]) {
        expect(statementsOf(built, fn).some((s) => s.Sid === 'DecryptArchiveThroughS3')).toBe(false);
      }
    });

    it('lets the sweeper write only alert and cluster states, read only WAL segments, and publish only to its topic', () => {
      const built = build();
      const statements = statementsOf(built, built.monitor.functions.sweeper);
      expect(actionsOf(statements)).toEqual(
        [
          ...COMMON,
          'dynamodb:BatchGetItem',
          'dynamodb:DeleteItem',
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:Query',
          'dynamodb:UpdateItem',
          's3:GetObject',
          'sns:Publish',
          'sqs:SendMessage',
          'kms:Decrypt',
          'kms:GenerateDataKey',
        ].sort(),
      );
      const put = statements.find((s) => list(s.Action).includes('dynamodb:PutItem'));
      expect(put?.Condition).toEqual({
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['a#*', 'c#*'] },
      });
      const drills = statements.find((s) => s.Sid === 'ReadDrillItems');
      expect(drills?.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['d#*'] } });
      const fleet = statements.find((s) => s.Sid === 'WriteFleetSummary');
      expect(fleet?.Condition).toEqual({
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['f#*', 'h#*'] },
      });
      const publish = statements.find((s) => list(s.Action).includes('sns:Publish'));
      expect(publish?.Resource).toEqual({ Ref: logicalId(built, built.monitor.alertTopic) });
      const read = statements.find((s) => list(s.Action).includes('s3:GetObject'));
      expect(JSON.stringify(read?.Resource)).toContain('wal_005/*');
      expect(JSON.stringify(read?.Resource)).not.toContain('basebackups_005');
    });

    it('keeps the sweeper away from segments and cluster states when segment content is off', () => {
      const built = build({ segmentContent: 'off' });
      const statements = statementsOf(built, built.monitor.functions.sweeper);
      expect(statements.some((s) => list(s.Action).some((a) => a.startsWith('s3:')))).toBe(false);
      const put = statements.find((s) => list(s.Action).includes('dynamodb:PutItem'));
      expect(put?.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['a#*'] } });
    });

    it('lets the sweeper reading every segment write only summaries, cursors, states and alerts, with more memory', () => {
      const built = build({ segmentContent: 'all' });
      const statements = statementsOf(built, built.monitor.functions.sweeper);
      const put = statements.find((s) => list(s.Action).includes('dynamodb:PutItem'));
      expect(put?.Condition).toEqual({
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['a#*', 'c#*', 'w#*', 'r#*'] },
      });
      const reads = statements.find((s) => list(s.Action).includes('dynamodb:GetItem'));
      expect(list(reads?.Action).sort()).toEqual(['dynamodb:BatchGetItem', 'dynamodb:GetItem']);
      const read = statements.find((s) => list(s.Action).includes('s3:GetObject'));
      expect(JSON.stringify(read?.Resource)).toContain('wal_005/*');
      built.template.hasResourceProperties('AWS::Lambda::Function', {
        MemorySize: 1769,
        Environment: { Variables: Match.objectLike({ WALWATCH_READ_CONTENT: 'all' }) },
      });
    });

    it('lets the API read the table and write only gap acknowledgements and fleet rows', () => {
      const built = build();
      const statements = statementsOf(built, built.monitor.functions.api);
      expect(actionsOf(statements)).toEqual(
        [
          ...COMMON,
          'dynamodb:BatchGetItem',
          'dynamodb:DeleteItem',
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:Query',
          'dynamodb:UpdateItem',
        ].sort(),
      );
      // Batch reads reach restore drill items only (the report's lastDrill, GET /clusters/{id}/drills).
      expect(statements.find((s) => list(s.Action).includes('dynamodb:BatchGetItem'))?.Condition).toEqual({
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['d#*'] },
      });
      // ... and fleet rows (the row of a cluster whose gap it acknowledged).
      expect(statements.find((s) => s.Sid === 'ReadFleetRows')?.Condition).toEqual({
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['f#*'] },
      });
      const update = statements.find((s) => list(s.Action).includes('dynamodb:UpdateItem'));
      expect(update?.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['k#*'] } });
      const fleet = statements.find((s) => s.Sid === 'WriteFleetSummary');
      expect(fleet?.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['f#*'] } });
    });

    it('lets ingest and reconcile mark only fleet rows besides folding', () => {
      const built = build();
      for (const fn of [built.monitor.functions.ingest, built.monitor.functions.reconcile]) {
        const mark = statementsOf(built, fn).find((s) => s.Sid === 'MarkFleetRows');
        expect(list(mark?.Action)).toEqual(['dynamodb:UpdateItem']);
        expect(mark?.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['f#*'] } });
      }
    });

    it('grants every DynamoDB operation the store code calls to some function', () => {
      const operations: Record<string, string> = {
        BatchGetCommand: 'dynamodb:BatchGetItem',
        BatchWriteCommand: 'dynamodb:BatchWriteItem',
        DeleteCommand: 'dynamodb:DeleteItem',
        GetCommand: 'dynamodb:GetItem',
        PutCommand: 'dynamodb:PutItem',
        QueryCommand: 'dynamodb:Query',
        ScanCommand: 'dynamodb:Scan',
        TransactGetCommand: 'dynamodb:GetItem',
        TransactWriteCommand: 'dynamodb:TransactWriteItems',
        UpdateCommand: 'dynamodb:UpdateItem',
      };
      const storeDir = new URL('../../shared/store/', import.meta.url);
      const called = readdirSync(storeDir)
        .filter((file) => file.endsWith('.ts'))
        .flatMap((file) => [...readFileSync(new URL(file, storeDir), 'utf8').matchAll(/new (\w+Command)\(/g)])
        .map((match) => match[1] as string);
      const granted = new Set([
        ...Object.values(TABLE_ACCESS).flatMap((access) => [
          ...access.table,
          ...access.index,
          ...('writes' in access ? access.writes : []),
        ]),
        ...FLEET_ACCESS.writes,
      ]);
      expect(called.length).toBeGreaterThan(3);
      for (const command of called) {
        expect(operations[command], `${command} has no known IAM action`).toBeDefined();
        expect(granted, `${command} is called in shared/store/ but not granted`).toContain(
          operations[command],
        );
      }
    });

    it('grants no s3:* and no data action on Resource * in any role', () => {
      const built = build();
      for (const fn of Object.values(built.monitor.functions)) {
        for (const statement of statementsOf(built, fn)) {
          const actions = list(statement.Action);
          expect(actions.filter((a) => a.endsWith(':*') || a === '*')).toEqual([]);
          if (list(statement.Resource).includes('*')) {
            expect(actions, fn.node.path).toEqual(['xray:PutTraceSegments', 'xray:PutTelemetryRecords']);
          }
        }
      }
    });
  });

  describe('alarms', () => {
    type AlarmProps = {
      MetricName?: string;
      Namespace?: string;
      Dimensions?: { Name: string; Value: string }[];
      TreatMissingData: string;
      Threshold: number;
      ComparisonOperator: string;
      EvaluationPeriods: number;
      AlarmActions: unknown[];
      OKActions: unknown[];
    };
    const alarms = (built: Built): AlarmProps[] =>
      Object.values(built.template.findResources('AWS::CloudWatch::Alarm')).map(
        (a) => (a as { Properties: AlarmProps }).Properties,
      );
    const dimensions = (dims: { Name: string; Value: string }[] = []) =>
      Object.fromEntries(dims.map((d) => [d.Name, d.Value]).sort());
    const sweeperAlarm = (built: Built, name: string, cluster?: string) =>
      alarms(built).find(
        (a) =>
          a.Namespace === 'walwatch' &&
          a.MetricName === name &&
          JSON.stringify(dimensions(a.Dimensions)) ===
            JSON.stringify(
              dimensions([
                ...(cluster === undefined ? [] : [{ Name: 'Cluster', Value: cluster }]),
                { Name: 'service', Value: 'walwatch' },
              ]),
            ),
      );

    it('fires when the sweeper stops: missing SweeperRuns is breaching', () => {
      const built = build();
      expect(sweeperAlarm(built, 'SweeperRuns')).toMatchObject({
        TreatMissingData: 'breaching',
        ComparisonOperator: 'LessThanThreshold',
        Threshold: 1,
        EvaluationPeriods: 2,
      });
    });

    it('watches the fleet maxima with the default thresholds, missing data not breaching', () => {
      const built = build();
      const expected: [string, number][] = [
        ['ArchiveAgeSeconds', 3600],
        ['BackupAgeSeconds', 26 * 3600],
        ['LostGapSegments', 0],
        ['CriticalProblems', 0],
      ];
      for (const [name, threshold] of expected) {
        expect(sweeperAlarm(built, name), name).toMatchObject({
          Threshold: threshold,
          ComparisonOperator: 'GreaterThanThreshold',
          TreatMissingData: 'notBreaching',
        });
      }
    });

    it('watches each declared cluster, and a declared cluster that stops being reported is critical', () => {
      const built = build({ clusters: ['spilo/demo/wal/17'] });
      expect(sweeperAlarm(built, 'ArchiveAgeSeconds', 'spilo/demo/wal/17')).toMatchObject({
        Threshold: 3600,
        TreatMissingData: 'notBreaching',
      });
      expect(sweeperAlarm(built, 'CriticalProblems', 'spilo/demo/wal/17')).toMatchObject({
        TreatMissingData: 'breaching',
      });
      expect(sweeperAlarm(built, 'CriticalProblems', 'spilo/demo/wal/16')).toBeUndefined();
    });

    it('declares one cluster per archive root by default', () => {
      const built = build();
      for (const root of ROOTS) {
        expect(sweeperAlarm(built, 'LostGapSegments', root.slice(0, -1)), root).toBeDefined();
      }
    });

    it('alarms on dead letters and on errors of every function, all notifying the alert topic', () => {
      const built = build();
      const topic = { Ref: logicalId(built, built.monitor.alertTopic) };
      expect(
        alarms(built).find(
          (a) =>
            a.MetricName === 'ApproximateNumberOfMessagesVisible' &&
            JSON.stringify(a.Dimensions).includes(logicalId(built, built.monitor.deadLetterQueue)),
        ),
      ).toMatchObject({
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
      });
      expect(alarms(built).filter((a) => a.MetricName === 'Errors')).toHaveLength(5);
      for (const alarm of alarms(built)) {
        expect(alarm.AlarmActions).toEqual([topic]);
        expect(alarm.OKActions).toEqual([topic]);
      }
    });

    it('lets CloudWatch alarms of this account publish to the encrypted topic', () => {
      const built = build({ alertEmails: ['dba@example.com'] });
      built.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: 'sns:Publish',
              Condition: {
                StringEquals: { 'aws:SourceAccount': '111111111111' },
              },
            }),
          ]),
        },
      });
      built.template.hasResourceProperties('AWS::KMS::Key', {
        Description: Match.stringLikeRegexp('alert topic'),
        KeyPolicy: {
          Statement: Match.arrayWith([
            Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' } }),
          ]),
        },
      });
      built.template.hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'email',
        Endpoint: 'dba@example.com',
      });
    });

    it('draws one line per cluster with search expressions on the dashboard', () => {
      const built = build();
      const [dashboard] = Object.values(built.template.findResources('AWS::CloudWatch::Dashboard')) as {
        Properties: { DashboardBody: unknown };
      }[];
      const body = render(dashboard?.Properties.DashboardBody);
      for (const name of ['ArchiveAgeSeconds', 'BackupAgeSeconds', 'LostGapSegments', 'CriticalProblems']) {
        expect(body).toContain(
          `SEARCH('{walwatch,service,Cluster} service=\\"walwatch\\" MetricName=\\"${name}\\"', 'Maximum', 60)`,
        );
      }
    });
  });

  describe('query API', () => {
    it('has no route without IAM authorization', () => {
      const built = build();
      const routes = Object.values(built.template.findResources('AWS::ApiGatewayV2::Route')) as {
        Properties: { RouteKey: string; AuthorizationType?: string };
      }[];
      expect(routes.map((r) => r.Properties.RouteKey).sort()).toEqual(['ANY /', 'ANY /{proxy+}']);
      for (const route of routes) {
        expect(route.Properties.AuthorizationType, route.Properties.RouteKey).toBe('AWS_IAM');
      }
    });

    it('throttles the stage and writes JSON access logs', () => {
      const built = build({ apiThrottle: { rateLimit: 5, burstLimit: 10 } });
      built.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
        StageName: '$default',
        AutoDeploy: true,
        DefaultRouteSettings: { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 },
        AccessLogSettings: {
          DestinationArn: Match.anyValue(),
          Format: Match.stringLikeRegexp('"caller":"\\$context.identity.userArn"'),
        },
      });
    });
  });

  describe('validation', () => {
    it.each<[Partial<WalBackupMonitorProps>, RegExp]>([
      [{ archiveRoots: [] }, /at least one root, got \[\]/],
      [{ archiveRoots: ['spilo/demo/wal/17'] }, /got 'spilo\/demo\/wal\/17'/],
      [{ clusters: ['other/wal/17'] }, /got 'other\/wal\/17'/],
      [{ alertEmails: ['dba'] }, /got 'dba'/],
      [{ maxArchiveAge: Duration.seconds(30) }, /maxArchiveAge must be at least 5 minutes, got 30 seconds/],
      [{ reconcileEvery: Duration.seconds(90) }, /whole minutes, got 1 minute 30 seconds/],
      [{ reconcileEvery: Duration.days(2) }, /reconcileEvery must be from 1 minute to 1 day, got 2 days/],
      [
        { ingestTimeout: Duration.minutes(20) },
        /ingestTimeout must be from 10 seconds to 15 minutes, got 20 minutes/,
      ],
      [{ ingestMaxConcurrency: 1 }, /got 1/],
      [{ apiThrottle: { rateLimit: 0, burstLimit: 10 } }, /got \{"rateLimit":0,"burstLimit":10\}/],
    ])('rejects %j, showing the bad value', (overrides, message) => {
      const stack = new Stack(testApp(), 'Test');
      const bucket = new Bucket(stack, 'Bucket', { encryptionKey: new Key(stack, 'Key') });
      expect(
        () =>
          new WalBackupMonitor(stack, 'Monitor', {
            archiveBucket: bucket,
            archiveRoots: ROOTS,
            ...overrides,
          }),
      ).toThrow(message);
    });
  });
});
