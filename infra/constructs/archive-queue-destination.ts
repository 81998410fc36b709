import { Annotations } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import {
  type BucketNotificationDestinationConfig,
  BucketNotificationDestinationType,
  type IBucket,
  type IBucketNotificationDestination,
} from 'aws-cdk-lib/aws-s3';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/**
 * An SQS queue as the destination of a bucket's event notifications, allowing exactly that bucket:
 * the queue policy lets `s3.amazonaws.com` call `sqs:SendMessage` only with `aws:SourceArn` = the
 * bucket and `aws:SourceAccount` = its account (the confused-deputy guard S3's documentation asks
 * for; CDK's `SqsDestination` sets only the ARN). When the queue has a customer managed key, its key
 * policy lets S3 create and use data keys, which S3 needs to send to an encrypted queue and to
 * validate the configuration with its `s3:TestEvent`.
 */
export class ArchiveQueueDestination implements IBucketNotificationDestination {
  /** @param queue the queue the bucket's events go to */
  constructor(private readonly queue: IQueue) {}

  /** Adds the queue and key policy statements; called by `addEventNotification`. */
  public bind(_scope: Construct, bucket: IBucket): BucketNotificationDestinationConfig {
    const s3 = new ServicePrincipal('s3.amazonaws.com');
    this.queue.addToResourcePolicy(
      new PolicyStatement({
        sid: 'ArchiveBucketSendsEvents',
        principals: [s3],
        actions: ['sqs:SendMessage'],
        resources: [this.queue.queueArn],
        conditions: {
          ArnLike: { 'aws:SourceArn': bucket.bucketArn },
          StringEquals: { 'aws:SourceAccount': bucket.env.account },
        },
      }),
    );
    const key = this.queue.encryptionMasterKey;
    if (key !== undefined) {
      const statement = new PolicyStatement({
        sid: 'S3SendsToTheEncryptedQueue',
        principals: [s3],
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        // In a key policy, `*` is this key.
        resources: ['*'],
      });
      if (!key.addToResourcePolicy(statement, true).statementAdded) {
        Annotations.of(this.queue).addWarningV2(
          'walwatch:ArchiveQueueDestination.keyPolicy',
          `The queue's key is imported, so its policy is not changed: allow s3.amazonaws.com kms:GenerateDataKey and kms:Decrypt on it yourself.`,
        );
      }
    }
    return {
      arn: this.queue.queueArn,
      type: BucketNotificationDestinationType.QUEUE,
      dependencies: [this.queue],
    };
  }
}
