import { type App, type CfnResource, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { CONTEXT_KEYS, readAppConfig } from '../../infra/app-config.js';
import { createWalwatchApp } from '../../infra/create-app.js';
import { SYNTH_TIMEOUT_MS, testContext } from './support.js';

function acknowledgements(root: IConstruct): { path: string; id: string; reason: string }[] {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path,
          id,
          reason,
        })),
      ),
  );
}

describe('the walwatch CDK app', { timeout: SYNTH_TIMEOUT_MS }, () => {
  it.each<[string, Record<string, unknown>]>([
    ['the cdk.json example (existing etcd, new KMS bucket)', {}],
    ['etcd on the nodes', { etcdEndpoints: '', etcdOnNodes: 'true' }],
    ['an S3-managed bucket with Object Lock', { bucketEncryption: 's3-managed', objectLockDays: '14' }],
    [
      'an adopted bucket with its KMS key and a clone',
      {
        existingBucketName: 'team-wal-archive',
        existingBucketKeyArn:
          'arn:aws:kms:eu-central-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab',
        cloneFromScope: 'old-demo',
        cloneTargetTime: '2026-11-24T12:00:00Z',
      },
    ],
  ])(
    'synthesizes %s under cdk-nag AwsSolutions and Serverless with no unacknowledged finding',
    (_, context) => {
      const { app } = createWalwatchApp({ context: testContext(context) });
      expect(() => app.synth()).not.toThrow();
    },
  );

  it('wires the archive events to the monitor and still has no unacknowledged finding', () => {
    const { app, stack } = createWalwatchApp({
      context: testContext({ alertEmails: 'dba@example.com,oncall@example.com' }),
    });
    expect(() => stack.archive.notifyQueue(stack.monitor.ingestQueue)).toThrow(/already notifies/);
    const template = Template.fromStack(stack);
    template.resourceCountIs('Custom::S3BucketNotifications', 1);
    template.resourcePropertiesCountIs('AWS::SNS::Subscription', { Protocol: 'email' }, 2);
    expect(() => app.synth()).not.toThrow();
  });

  it('gives every acknowledgement a specific reason', () => {
    const { app } = createWalwatchApp({
      context: testContext({ cloneFromScope: 'old-demo' }),
    });
    const acks = acknowledgements(app);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ack.reason.length, `${ack.path} ${ack.id}`).toBeGreaterThanOrEqual(40);
      expect(ack.id).not.toMatch(/^(Annotation::)?AwsSolutions-IAM5$/);
    }
    expect(new Set(acks.map((a) => a.reason)).size).toBeGreaterThan(3);
  });

  it('fails synthesis on a finding nobody acknowledged', () => {
    const { app, stack } = createWalwatchApp({ context: testContext() });
    new Queue(stack, 'UnprotectedQueue');
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS3[\s\S]*UnprotectedQueue/);
  });

  it('validates the template against the CloudFormation resource schemas', () => {
    const { app, stack } = createWalwatchApp({ context: testContext() });
    const bucket = stack.archive.bucket.node.defaultChild as CfnResource;
    bucket.addPropertyOverride('VersioningConfigurations', { Status: 'Enabled' });
    expect(() => app.synth()).toThrow(/'VersioningConfigurations' was unexpected/);
  });
});

describe('readAppConfig', { timeout: SYNTH_TIMEOUT_MS }, () => {
  const context = (values: Record<string, unknown>) => (key: string) => values[key];
  const minimal = {
    region: 'eu-central-1',
    scope: 'demo',
    etcdTlsSecretName: 'walwatch/etcd-tls',
    etcdEndpoints: 'a:2379, b:2379',
  };

  it('reads lists from comma-separated CLI values and numbers from strings', () => {
    const config = readAppConfig(
      context({ ...minimal, instanceCount: '5', postgresClientCidrs: '10.0.0.0/8' }),
    );
    expect(config.stackName).toBe('Walwatch');
    expect(config.stackProps.etcdEndpoints).toEqual(['a:2379', 'b:2379']);
    expect(config.stackProps.instanceCount).toBe(5);
    expect(config.stackProps.postgresClientCidrs).toEqual(['10.0.0.0/8']);
    expect(config.stackProps.env).toEqual({ account: undefined, region: 'eu-central-1' });
  });

  it.each<[Record<string, unknown>, RegExp]>([
    [{ region: undefined }, /'region' is required/],
    [{ scope: undefined }, /'scope' is required/],
    [{ instanceCount: 'three' }, /got 'three'/],
    [{ etcdOnNodes: 'yes' }, /got 'yes'/],
    [{ bucketEncryption: 'aes' }, /got 'aes'/],
    [{ cloneTargetTime: '2026-11-24T12:00:00Z' }, /needs 'cloneFromScope'/],
    [{ vpcId: 'vpc-123' }, /needs 'account'/],
    [{ walgSettings: 'zstd' }, /must be a JSON object, got 'zstd'/],
    [{ walgSettings: '{"WALG_UPLOAD_CONCURRENCY": 4}' }, /must map names to strings/],
    [
      { alertEmails: 'dba@example.com,oncall' },
      /'alertEmails' must be comma-separated e-mail addresses, got 'oncall'/,
    ],
    [{ segmentContent: 'every' }, /'segmentContent' must be off, chain-ends or all, got "every"/],
    [{ segmentContent: 'off; all=a; off=a' }, /'segmentContent' gives a twice \(all and off\)/],
  ])('rejects %j, naming the key and value', (values, message) => {
    expect(() => readAppConfig(context({ ...minimal, ...values }))).toThrow(message);
  });

  it('reads a per-cluster segment content policy', () => {
    const config = readAppConfig(
      context({ ...minimal, segmentContent: 'chain-ends; all=spilo/orders/*; off=spilo/scratch/*' }),
    );
    expect(config.stackProps.segmentContent).toEqual({
      default: 'chain-ends',
      clusters: [
        { pattern: 'spilo/orders/*', value: 'all' },
        { pattern: 'spilo/scratch/*', value: 'off' },
      ],
    });
  });

  it('documents every context key in the AWS deployment docs', async () => {
    const { readFile } = await import('node:fs/promises');
    const docs = await readFile(new URL('../../docs/aws.md', import.meta.url), 'utf8');
    for (const key of CONTEXT_KEYS) {
      expect(docs, key).toContain(`\`${key}\``);
    }
  });
});

describe('the walwatch stack', { timeout: SYNTH_TIMEOUT_MS }, () => {
  it('warns when the node AMI is not pinned, and not when it is', () => {
    const unpinned = createWalwatchApp({ context: testContext({ amiId: undefined }) });
    const pinned = createWalwatchApp({ context: testContext({ amiId: 'ami-0123456789abcdef0' }) });
    const warnings = (app: App) =>
      app.node
        .findAll()
        .flatMap((c) => c.node.metadata)
        .filter((m) => m.type === 'aws:cdk:warning' && String(m.data).includes('Pin it with -c amiId'));
    expect(warnings(unpinned.app)).toHaveLength(1);
    expect(warnings(pinned.app)).toHaveLength(0);
  });

  it('grants no s3:* and no S3, KMS or Secrets Manager action on Resource * in any policy', () => {
    const { stack } = createWalwatchApp({ context: testContext() });
    const template = Template.fromStack(stack);
    const documents = [
      ...Object.values(template.findResources('AWS::IAM::Policy')).map(
        (p) => (p as { Properties: { PolicyDocument: unknown } }).Properties.PolicyDocument,
      ),
      ...Object.values(template.findResources('AWS::IAM::Role')).flatMap((r) =>
        ((r as { Properties: { Policies?: { PolicyDocument: unknown }[] } }).Properties.Policies ?? []).map(
          (p) => p.PolicyDocument,
        ),
      ),
    ] as { Statement: { Effect: string; Action: string | string[]; Resource: unknown }[] }[];
    expect(documents.length).toBeGreaterThan(2);
    for (const statement of documents.flatMap((d) => d.Statement)) {
      const actions = Array.isArray(statement.Action) ? statement.Action : [statement.Action];
      const resources = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
      expect(actions).not.toContain('s3:*');
      expect(actions).not.toContain('*');
      if (statement.Effect === 'Allow' && resources.includes('*')) {
        expect(
          actions.filter((a) =>
            /^(s3|kms|secretsmanager):(Get|Put|Delete|Decrypt|Encrypt|GenerateDataKey)/.test(a),
          ),
        ).toEqual([]);
      }
    }
  });
});
