import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Bucket, ObjectLockRetention } from 'aws-cdk-lib/aws-s3';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { WalArchiveBucket, WalArchiveEncryption } from '../../infra/constructs/wal-archive-bucket.js';
import { SYNTH_TIMEOUT_MS, testApp } from './support.js';

function newStack(): Stack {
  return new Stack(testApp(), 'Test', { env: { account: '111111111111', region: 'eu-central-1' } });
}

function archiveBucketResource(template: Template): Record<string, unknown> {
  const buckets = template.findResources('AWS::S3::Bucket', {
    Properties: { VersioningConfiguration: { Status: 'Enabled' }, BucketEncryption: Match.anyValue() },
  });
  const withLogging = Object.values(buckets).filter(
    (b) => (b as { Properties: Record<string, unknown> }).Properties.LoggingConfiguration !== undefined,
  );
  expect(withLogging).toHaveLength(1);
  return (withLogging[0] as { Properties: Record<string, unknown> }).Properties;
}

describe('WalArchiveBucket', { timeout: SYNTH_TIMEOUT_MS }, () => {
  it('creates a versioned, KMS-encrypted, private, access-logged bucket with lifecycle rules', () => {
    const stack = newStack();
    new WalArchiveBucket(stack, 'Archive');
    const template = Template.fromStack(stack);
    const bucket = archiveBucketResource(template);
    expect(bucket).toMatchObject({
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      LoggingConfiguration: { LogFilePrefix: 'wal-archive/' },
      LifecycleConfiguration: {
        Rules: [
          {
            Status: 'Enabled',
            NoncurrentVersionExpiration: { NoncurrentDays: 30 },
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
            ExpiredObjectDeleteMarker: true,
          },
        ],
      },
    });
    const encryption = (bucket.BucketEncryption as { ServerSideEncryptionConfiguration: unknown[] })
      .ServerSideEncryptionConfiguration[0];
    expect(encryption).toMatchObject({
      BucketKeyEnabled: true,
      ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' },
    });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
  });

  it('denies every request without TLS', () => {
    const stack = newStack();
    new WalArchiveBucket(stack, 'Archive');
    Template.fromStack(stack).hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('uses S3-managed encryption and no key when asked to', () => {
    const stack = newStack();
    new WalArchiveBucket(stack, 'Archive', { encryption: WalArchiveEncryption.S3_MANAGED });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::KMS::Key', 0);
    const encryption = (
      archiveBucketResource(template).BucketEncryption as {
        ServerSideEncryptionConfiguration: unknown[];
      }
    ).ServerSideEncryptionConfiguration[0];
    expect(encryption).toMatchObject({ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } });
  });

  it('turns on Object Lock with the given default retention', () => {
    const stack = newStack();
    new WalArchiveBucket(stack, 'Archive', {
      objectLockDefaultRetention: ObjectLockRetention.governance(Duration.days(14)),
    });
    Template.fromStack(stack).hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockEnabled: true,
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 14 } },
      },
    });
  });

  it('sends create and remove events under wal_005/ and basebackups_005/ of each root to the queue', () => {
    const stack = newStack();
    const queue = new Queue(stack, 'Queue', { encryption: QueueEncryption.SQS_MANAGED });
    new WalArchiveBucket(stack, 'Archive', {
      notificationQueue: queue,
      archiveRoots: ['spilo/demo/wal/16/', 'spilo/demo/wal/17/'],
    });
    const template = Template.fromStack(stack);
    const notifications = Object.values(template.findResources('Custom::S3BucketNotifications'));
    expect(notifications).toHaveLength(1);
    const config = (
      notifications[0] as {
        Properties: { NotificationConfiguration: { QueueConfigurations: Record<string, unknown>[] } };
      }
    ).Properties.NotificationConfiguration.QueueConfigurations;
    const filters = config.map((c) => {
      const rules = (c.Filter as { Key: { FilterRules: { Name: string; Value: string }[] } }).Key.FilterRules;
      return `${c.Events} ${rules.map((r) => `${r.Name}=${r.Value}`).join(' ')}`;
    });
    expect(filters.sort()).toEqual(
      [
        's3:ObjectCreated:* prefix=spilo/demo/wal/16/basebackups_005/',
        's3:ObjectCreated:* prefix=spilo/demo/wal/16/wal_005/',
        's3:ObjectCreated:* prefix=spilo/demo/wal/17/basebackups_005/',
        's3:ObjectCreated:* prefix=spilo/demo/wal/17/wal_005/',
        's3:ObjectRemoved:* prefix=spilo/demo/wal/16/basebackups_005/',
        's3:ObjectRemoved:* prefix=spilo/demo/wal/16/wal_005/',
        's3:ObjectRemoved:* prefix=spilo/demo/wal/17/basebackups_005/',
        's3:ObjectRemoved:* prefix=spilo/demo/wal/17/wal_005/',
      ].sort(),
    );
    const queueArn = stack.resolve(queue.queueArn);
    for (const c of config) {
      expect(c.QueueArn).toEqual(queueArn);
    }
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 's3.amazonaws.com' },
            Action: 'sqs:SendMessage',
            Condition: {
              ArnLike: { 'aws:SourceArn': Match.anyValue() },
              StringEquals: { 'aws:SourceAccount': Match.anyValue() },
            },
          }),
        ]),
      },
    });
  });

  it('wires a queue given later with notifyQueue, once', () => {
    const stack = newStack();
    const archive = new WalArchiveBucket(stack, 'Archive', { archiveRoots: ['spilo/demo/wal/17/'] });
    const queue = new Queue(stack, 'Queue');
    archive.notifyQueue(queue);
    expect(() => archive.notifyQueue(queue)).toThrow(/already notifies Test\/Queue/);
    Template.fromStack(stack).resourceCountIs('Custom::S3BucketNotifications', 1);
  });

  it('adopts an existing bucket: creates no bucket, adds only the notifications', () => {
    const stack = newStack();
    const existing = Bucket.fromBucketName(stack, 'Existing', 'team-wal-archive');
    const archive = new WalArchiveBucket(stack, 'Archive', {
      existingBucket: existing,
      notificationQueue: new Queue(stack, 'Queue'),
      archiveRoots: ['spilo/demo/wal/17/'],
    });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::S3::Bucket', 0);
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: 'team-wal-archive',
      Managed: false,
    });
    expect(archive.bucket.bucketName).toBe('team-wal-archive');
    expect(archive.accessLogsBucket).toBeUndefined();
  });

  it('rejects creation properties next to an adopted bucket, naming them', () => {
    const stack = newStack();
    expect(
      () =>
        new WalArchiveBucket(stack, 'Archive', {
          existingBucket: Bucket.fromBucketName(stack, 'Existing', 'team-wal-archive'),
          encryption: WalArchiveEncryption.KMS,
          noncurrentVersionExpiration: Duration.days(3),
        }),
    ).toThrow(/encryption, noncurrentVersionExpiration/);
  });

  it.each([
    [['/spilo/demo/wal/17/'], /got '\/spilo\/demo\/wal\/17\/'/],
    [['spilo/demo/wal/17'], /got 'spilo\/demo\/wal\/17'/],
    [['spilo/demo/', 'spilo/demo/wal/17/'], /may not nest/],
  ])('rejects archive roots %j', (roots, message) => {
    expect(() => new WalArchiveBucket(newStack(), 'Archive', { archiveRoots: roots })).toThrow(message);
  });

  it('refuses to send events without archive roots', () => {
    const stack = newStack();
    expect(
      () => new WalArchiveBucket(stack, 'Archive', { notificationQueue: new Queue(stack, 'Q') }),
    ).toThrow(/archiveRoots must be set to send events, got \[\]/);
  });
});
