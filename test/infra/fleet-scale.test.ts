/**
 * The AWS parts of large fleets: the sweeper's fan-out to the sweep worker, per-cluster metrics by pattern,
 * and the archive's daily S3 Inventory that full reconciles read through the reconcile worker.
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CfnRole } from 'aws-cdk-lib/aws-iam';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { INVENTORY_ID, WalArchiveBucket } from '../../infra/constructs/wal-archive-bucket.js';
import { WalBackupMonitor, type WalBackupMonitorProps } from '../../infra/constructs/wal-backup-monitor.js';
import type { WalwatchFunction } from '../../infra/constructs/walwatch-function.js';
import { ENV } from '../../shared/config/env.js';
import { SYNTH_TIMEOUT_MS, testApp } from './support.js';

const ROOTS = ['spilo/demo/wal/16/', 'spilo/demo/wal/17/'];

interface Statement {
  readonly Sid?: string;
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
  readonly Principal?: unknown;
}

function build(overrides: Partial<WalBackupMonitorProps> = {}, inventory = true) {
  const stack = new Stack(testApp(), 'Test', { env: { account: '111111111111', region: 'eu-central-1' } });
  const archive = new WalArchiveBucket(stack, 'Archive', { archiveRoots: ROOTS, inventory });
  const monitor = new WalBackupMonitor(stack, 'Monitor', {
    archiveBucket: archive.bucket,
    archiveRoots: archive.archiveRoots,
    archiveInventory: archive.inventory,
    ...overrides,
  });
  archive.notifyQueue(monitor.ingestQueue);
  const template = Template.fromStack(stack);
  const id = (construct: { node: { defaultChild?: unknown } }) =>
    stack.getLogicalId(construct.node.defaultChild as never);
  /** Every statement of the policies attached to a function's role. */
  const statementsOf = (fn: WalwatchFunction): Statement[] => {
    const roleId = stack.getLogicalId(fn.function.role?.node.defaultChild as CfnRole);
    const policies = Object.values(template.findResources('AWS::IAM::Policy')) as {
      Properties: { Roles: unknown[]; PolicyDocument: { Statement: Statement[] } };
    }[];
    return policies
      .filter((p) => p.Properties.Roles.some((r) => JSON.stringify(r) === JSON.stringify({ Ref: roleId })))
      .flatMap((p) => p.Properties.PolicyDocument.Statement);
  };
  const envOf = (fn: WalwatchFunction): Record<string, unknown> =>
    template.toJSON().Resources[id(fn.function as never)].Properties.Environment.Variables;
  return { stack, archive, monitor, template, id, statementsOf, envOf };
}

const actions = (statements: Statement[]) =>
  [...new Set(statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])))].sort();

describe('WalArchiveBucket inventory', { timeout: SYNTH_TIMEOUT_MS }, () => {
  it('configures a daily CSV inventory of current versions with what a listing gives', () => {
    const { template, archive, id } = build();
    const inventoryBucket = archive.inventory?.bucket as Bucket;
    const [configuration] = template.toJSON().Resources[id(archive.bucket as Bucket)].Properties
      .InventoryConfigurations as Array<Record<string, unknown>>;
    expect(configuration).toEqual({
      Id: INVENTORY_ID,
      Enabled: true,
      ScheduleFrequency: 'Daily',
      IncludedObjectVersions: 'Current',
      OptionalFields: ['Size', 'LastModifiedDate', 'ETag'],
      Destination: {
        BucketArn: { 'Fn::GetAtt': [id(inventoryBucket), 'Arn'] },
        Format: 'CSV',
        Prefix: 'inventory',
      },
    });
  });

  it('keeps the reports in a private, encrypted, TLS-only, access-logged bucket for two weeks', () => {
    const { template, archive, id } = build();
    const properties = template.toJSON().Resources[id(archive.inventory?.bucket as Bucket)].Properties;
    expect(properties.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
    expect(properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(properties.LoggingConfiguration.LogFilePrefix).toBe('wal-inventory/');
    expect(properties.LifecycleConfiguration.Rules).toEqual([
      { Id: 'ExpireReports', ExpirationInDays: 14, Status: 'Enabled' },
    ]);
  });

  it('lets only S3 write reports, for the archive bucket of its own account', () => {
    const { template, archive, id } = build();
    const [policy] = Object.values(
      template.findResources('AWS::S3::BucketPolicy', {
        Properties: { Bucket: { Ref: id(archive.inventory?.bucket as Bucket) } },
      }),
    ) as { Properties: { PolicyDocument: { Statement: Statement[] } } }[];
    const statements = policy?.Properties.PolicyDocument.Statement ?? [];
    const allows = statements.filter((s) => s.Effect === 'Allow');
    expect(allows).toHaveLength(1);
    expect(allows[0]).toMatchObject({
      Principal: { Service: 's3.amazonaws.com' },
      Action: 's3:PutObject',
      Resource: {
        'Fn::Join': [
          '',
          [{ 'Fn::GetAtt': [id(archive.inventory?.bucket as Bucket), 'Arn'] }, '/inventory/*'],
        ],
      },
      Condition: {
        ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [id(archive.bucket as Bucket), 'Arn'] } },
        StringEquals: { 'aws:SourceAccount': '111111111111' },
      },
    });
    expect(
      statements.some((s) => s.Effect === 'Deny' && JSON.stringify(s.Condition).includes('SecureTransport')),
    ).toBe(true);
  });

  it('adds no inventory when turned off', () => {
    const { archive, template } = build({}, false);
    expect(archive.inventory).toBeUndefined();
    expect(Object.keys(template.findResources('AWS::S3::Bucket'))).toHaveLength(2);
  });
});

describe('WalBackupMonitor fan-out', { timeout: SYNTH_TIMEOUT_MS }, () => {
  it('feeds the sweep worker one shard at a time from an encrypted queue with a dead-letter queue', () => {
    const { template, monitor, id } = build();
    const queue = template.toJSON().Resources[id(monitor.sweepQueue)].Properties;
    expect(queue.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [id(monitor.queueKey), 'Arn'] });
    expect(queue.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [id(monitor.fanOutDeadLetterQueues[0] as never), 'Arn'] },
      maxReceiveCount: 3,
    });
    // Six times the worker's 50 s timeout.
    expect(queue.VisibilityTimeout).toBe(300);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [id(monitor.sweepQueue), 'Arn'] },
      FunctionName: { Ref: id(monitor.functions.sweepWorker.function as never) },
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 10 },
    });
  });

  it('tells the sweeper where shards go and above which fleet size', () => {
    const { monitor, envOf, stack } = build({ sweepFanOutAbove: 2000 });
    const env = envOf(monitor.functions.sweeper);
    expect(env[ENV.sweepQueueUrl]).toEqual(stack.resolve(monitor.sweepQueue.queueUrl));
    expect(env[ENV.sweepFanOutAbove]).toBe('2000');
  });

  it('keeps the metrics of the clusters with alarms of their own, whatever the fleet size', () => {
    const { monitor, envOf } = build();
    for (const fn of [monitor.functions.sweeper, monitor.functions.sweepWorker])
      expect(envOf(fn)[ENV.clusterMetrics]).toBe('auto; on=spilo/demo/wal/16,spilo/demo/wal/17');
    const off = build({
      clusterMetrics: { default: 'off', clusters: [{ pattern: 'spilo/orders/*', value: 'on' }] },
    });
    expect(off.envOf(off.monitor.functions.sweepWorker)[ENV.clusterMetrics]).toBe('off; on=spilo/orders/*');
  });

  it('lets the sweeper send only to the sweep queue, and the worker write only alert states and fleet rows, and publish', () => {
    const { monitor, statementsOf, stack } = build();
    const send = statementsOf(monitor.functions.sweeper).filter((s) => s.Sid === 'SendFanOut');
    expect(send).toEqual([
      expect.objectContaining({
        Action: 'sqs:SendMessage',
        Resource: stack.resolve(monitor.sweepQueue.queueArn),
      }),
    ]);
    const worker = statementsOf(monitor.functions.sweepWorker);
    expect(actions(worker.filter((s) => s.Sid !== undefined))).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
      'kms:Decrypt',
      'kms:GenerateDataKey',
      'sns:Publish',
    ]);
    expect(worker.find((s) => s.Sid === 'WriteOwnItems')?.Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['a#*'] },
    });
    expect(worker.find((s) => s.Sid === 'WriteFleetSummary')?.Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['f#*'] },
    });
    expect(actions(worker).some((action) => action.startsWith('s3:'))).toBe(false);
  });

  it('lets reconcile read only the inventory manifests and send only to its queue, and the worker read only data files', () => {
    const { monitor, archive, statementsOf, stack, envOf } = build();
    const inventory = archive.inventory as NonNullable<typeof archive.inventory>;
    const reconcile = statementsOf(monitor.functions.reconcile);
    expect(reconcile.find((s) => s.Sid === 'ListInventoryReports')).toMatchObject({
      Action: 's3:ListBucket',
      Resource: stack.resolve(inventory.bucket.bucketArn),
      Condition: { StringLike: { 's3:prefix': [stack.resolve(`${inventory.prefix}*`)] } },
    });
    expect(reconcile.find((s) => s.Sid === 'ReadInventoryManifests')?.Resource).toEqual(
      stack.resolve(inventory.bucket.arnForObjects(`${inventory.prefix}*/manifest.*`)),
    );
    expect(reconcile.find((s) => s.Sid === 'SendFanOut')?.Resource).toEqual(
      stack.resolve(monitor.reconcileQueue?.queueArn),
    );
    const worker = statementsOf(monitor.functions.reconcileWorker as WalwatchFunction);
    expect(worker.find((s) => s.Sid === 'ReadInventoryData')?.Resource).toEqual(
      stack.resolve(inventory.bucket.arnForObjects(`${inventory.prefix}data/*`)),
    );
    expect(worker.some((s) => s.Sid === 'ListArchiveRoots' || s.Sid === 'SendFanOut')).toBe(false);
    const env = envOf(monitor.functions.reconcile);
    expect(env[ENV.inventoryLocation]).toEqual(
      stack.resolve(`s3://${inventory.bucket.bucketName}/${inventory.prefix}`),
    );
    expect(env[ENV.reconcileQueueUrl]).toEqual(stack.resolve(monitor.reconcileQueue?.queueUrl));
  });

  it('builds no reconcile worker for an archive without inventory, and full reconciles list', () => {
    const { monitor, envOf } = build({}, false);
    expect(monitor.functions.reconcileWorker).toBeUndefined();
    expect(monitor.reconcileQueue).toBeUndefined();
    expect(envOf(monitor.functions.reconcile)[ENV.inventoryLocation]).toBeUndefined();
  });

  it('alarms on shards and data files in the dead-letter queues', () => {
    const { monitor } = build();
    const ids = monitor.alarms.map((alarm) => alarm.node.id);
    expect(ids).toEqual(
      expect.arrayContaining([
        'SweepDeadLetters',
        'ReconcileDeadLetters',
        'SweepWorkerErrors',
        'ReconcileWorkerErrors',
      ]),
    );
  });
});
