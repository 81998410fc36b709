import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { type IKey, Key } from 'aws-cdk-lib/aws-kms';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  EventType,
  type IBucket,
  InventoryFormat,
  InventoryFrequency,
  InventoryObjectVersion,
  type ObjectLockRetention,
  ObjectOwnership,
} from 'aws-cdk-lib/aws-s3';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ArchiveQueueDestination } from './archive-queue-destination.js';

/** How objects in a bucket that {@link WalArchiveBucket} creates are encrypted at rest. */
export const WalArchiveEncryption = {
  /** SSE-KMS with a customer managed key (rotation on) and an S3 Bucket Key to cut KMS calls. */
  KMS: 'kms',
  /** SSE-S3 (AES256) with keys S3 manages. */
  S3_MANAGED: 's3-managed',
} as const;

/** One of the {@link WalArchiveEncryption} choices. */
export type WalArchiveEncryption = (typeof WalArchiveEncryption)[keyof typeof WalArchiveEncryption];

/** Destination prefix of the inventory reports in their bucket. */
const INVENTORY_PREFIX = 'inventory';

/** Folders WAL-G writes directly under an archive root. */
export const WALG_FOLDERS = ['wal_005/', 'basebackups_005/'] as const;

/** Properties of {@link WalArchiveBucket}. */
export interface WalArchiveBucketProps {
  /**
   * An existing bucket to adopt (e.g. `Bucket.fromBucketAttributes` with its `encryptionKey`).
   * Nothing is created then and none of the creation properties may be set; only the event
   * notifications are added, next to the bucket's existing ones.
   *
   * @default - a new bucket is created
   */
  readonly existingBucket?: IBucket;

  /**
   * Encryption of a new bucket.
   *
   * @default WalArchiveEncryption.KMS
   */
  readonly encryption?: WalArchiveEncryption;

  /**
   * Key for SSE-KMS; only with `WalArchiveEncryption.KMS`.
   *
   * @default - a new key with yearly rotation
   */
  readonly encryptionKey?: IKey;

  /**
   * How long an overwritten or deleted object version is kept before it expires. This is the
   * undo window for a mistaken or malicious `wal-g delete`.
   *
   * @default Duration.days(30)
   */
  readonly noncurrentVersionExpiration?: Duration;

  /**
   * When an unfinished multipart upload (an interrupted `backup-push`) is aborted.
   *
   * @default Duration.days(7)
   */
  readonly abortIncompleteMultipartUploadAfter?: Duration;

  /**
   * Default Object Lock retention (WORM). Compliance mode blocks `wal-g delete` until it expires,
   * so size it to the recovery window; Object Lock cannot be turned off once the bucket exists.
   *
   * @default - no Object Lock
   */
  readonly objectLockDefaultRetention?: ObjectLockRetention;

  /**
   * Bucket that receives the server access logs.
   *
   * @default - a new bucket (SSE-S3, as S3 log delivery requires), logs expire after 400 days
   */
  readonly serverAccessLogsBucket?: IBucket;

  /**
   * What happens to a new bucket (and a new key) when the stack is deleted.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Queue that receives the archive's object events (the monitor's ingest queue). Events can also
   * be wired later with {@link WalArchiveBucket.notifyQueue}.
   *
   * @default - no event notifications
   */
  readonly notificationQueue?: IQueue;

  /**
   * Archive roots whose events are sent, each ending in `/`, e.g. `spilo/demo/wal/17/`. For every
   * root, `ObjectCreated` and `ObjectRemoved` events under `wal_005/` and `basebackups_005/` are
   * sent. S3 filters cannot hold wildcards, so each PostgreSQL major version is its own root.
   *
   * @default [] (required when `notificationQueue` is set)
   */
  readonly archiveRoots?: readonly string[];

  /**
   * A daily S3 Inventory of a new bucket (CSV, gzip; current versions; Size, LastModifiedDate and ETag), into
   * a bucket of its own, for full reconciles that read the report instead of listing
   * (`WalBackupMonitor`'s `archiveInventory`). Costs $0.0025 per million objects listed.
   *
   * @default true for a new bucket; an adopted bucket keeps its own configuration
   */
  readonly inventory?: boolean;
}

/**
 * Where a bucket's inventory reports land: the folder `<prefix><source bucket>/<config id>/` of `bucket`,
 * holding the dated manifest folders and `data/`.
 */
export interface WalArchiveInventory {
  readonly bucket: IBucket;
  /** Ends in `/`. */
  readonly prefix: string;
}

/** Id of the inventory configuration, the `<config id>` folder of its reports. */
export const INVENTORY_ID = 'walwatch-daily';

/** Raised when {@link WalArchiveBucket} is given contradictory or malformed properties. */
export class WalArchiveBucketError extends Error {
  override readonly name = 'WalArchiveBucketError';
}

/**
 * The S3 bucket WAL-G archives into: versioned, encrypted, private, TLS-only, access-logged, with
 * lifecycle rules for noncurrent versions and stale multipart uploads, and optional Object Lock.
 * Sends `wal_005/` and `basebackups_005/` create and remove events to the monitor's queue.
 *
 * @example
 * ```ts
 * const archive = new WalArchiveBucket(this, 'Archive', { archiveRoots: ['spilo/demo/wal/17/'] });
 * archive.notifyQueue(monitorQueue);
 * ```
 */
export class WalArchiveBucket extends Construct {
  /** The archive bucket, new or adopted. */
  public readonly bucket: IBucket;
  /** The key objects are encrypted with, if SSE-KMS is used and the key is known. */
  public readonly encryptionKey?: IKey;
  /** The bucket receiving server access logs; `undefined` for an adopted bucket. */
  public readonly accessLogsBucket?: IBucket;
  /** Archive roots whose events are sent once a queue is wired. */
  public readonly archiveRoots: readonly string[];
  /** Where the daily inventory lands, when the bucket has one. */
  public readonly inventory?: WalArchiveInventory;

  private notifiedQueue?: IQueue;

  constructor(scope: Construct, id: string, props: WalArchiveBucketProps = {}) {
    super(scope, id);
    this.archiveRoots = validateArchiveRoots(props.archiveRoots ?? []);

    if (props.existingBucket !== undefined) {
      rejectCreationProps(props);
      this.bucket = props.existingBucket;
      this.encryptionKey = props.existingBucket.encryptionKey;
    } else {
      const created = this.createBucket(props);
      this.bucket = created.bucket;
      this.encryptionKey = created.bucket.encryptionKey;
      this.accessLogsBucket = created.accessLogsBucket;
      this.inventory = created.inventory;
    }

    if (props.notificationQueue !== undefined) {
      this.notifyQueue(props.notificationQueue);
    }
  }

  /**
   * Sends `ObjectCreated` and `ObjectRemoved` events under `<root>wal_005/` and
   * `<root>basebackups_005/` of every archive root to `queue`, whose policy then lets S3 send only
   * for this bucket and its account (`ArchiveQueueDestination`). Call it once, e.g. from the stack
   * after the monitor has created its queue.
   */
  public notifyQueue(queue: IQueue): void {
    if (this.notifiedQueue !== undefined) {
      throw new WalArchiveBucketError(`${this.node.path} already notifies ${this.notifiedQueue.node.path}`);
    }
    if (this.archiveRoots.length === 0) {
      throw new WalArchiveBucketError(`${this.node.path}: archiveRoots must be set to send events, got []`);
    }
    this.notifiedQueue = queue;
    const destination = new ArchiveQueueDestination(queue);
    for (const root of this.archiveRoots) {
      for (const folder of WALG_FOLDERS) {
        for (const event of [EventType.OBJECT_CREATED, EventType.OBJECT_REMOVED]) {
          this.bucket.addEventNotification(event, destination, { prefix: `${root}${folder}` });
        }
      }
    }
    acknowledgeNotificationsHandler(Stack.of(this));
  }

  private createBucket(props: WalArchiveBucketProps): {
    bucket: Bucket;
    accessLogsBucket: IBucket;
    inventory?: WalArchiveInventory;
  } {
    const encryption = props.encryption ?? WalArchiveEncryption.KMS;
    if (encryption !== WalArchiveEncryption.KMS && props.encryptionKey !== undefined) {
      throw new WalArchiveBucketError(
        `encryptionKey needs encryption '${WalArchiveEncryption.KMS}', got encryption '${encryption}'`,
      );
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const accessLogsBucket = props.serverAccessLogsBucket ?? this.createAccessLogsBucket(removalPolicy);
    const key =
      encryption === WalArchiveEncryption.KMS
        ? (props.encryptionKey ??
          new Key(this, 'Key', {
            description: 'Encrypts the WAL-G archive objects',
            enableKeyRotation: true,
            removalPolicy,
          }))
        : undefined;

    const inventoryBucket =
      props.inventory === false ? undefined : this.createInventoryBucket(removalPolicy, accessLogsBucket);
    const bucket = new Bucket(this, 'Bucket', {
      // Reports of the current versions, with what a listing gives. The destination goes in as a reference:
      // CDK would otherwise add its own policy statement, conditioned on the source ARN but not the account.
      inventories:
        inventoryBucket === undefined
          ? undefined
          : [
              {
                inventoryId: INVENTORY_ID,
                destination: {
                  bucket: Bucket.fromBucketAttributes(this, 'InventoryDestination', {
                    bucketArn: inventoryBucket.bucketArn,
                    bucketName: inventoryBucket.bucketName,
                  }),
                  prefix: INVENTORY_PREFIX,
                },
                format: InventoryFormat.CSV,
                frequency: InventoryFrequency.DAILY,
                includeObjectVersions: InventoryObjectVersion.CURRENT,
                optionalFields: ['Size', 'LastModifiedDate', 'ETag'],
              },
            ],
      versioned: true,
      encryption: key === undefined ? BucketEncryption.S3_MANAGED : BucketEncryption.KMS,
      encryptionKey: key,
      bucketKeyEnabled: key !== undefined,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      serverAccessLogsBucket: accessLogsBucket,
      serverAccessLogsPrefix: 'wal-archive/',
      objectLockDefaultRetention: props.objectLockDefaultRetention,
      removalPolicy,
      lifecycleRules: [
        {
          id: 'ExpireNoncurrentVersionsAndStaleUploads',
          noncurrentVersionExpiration: props.noncurrentVersionExpiration ?? Duration.days(30),
          abortIncompleteMultipartUploadAfter: props.abortIncompleteMultipartUploadAfter ?? Duration.days(7),
          expiredObjectDeleteMarker: true,
        },
      ],
    });
    inventoryBucket?.addToResourcePolicy(
      new PolicyStatement({
        sid: 'InventoryReportsOfTheArchive',
        principals: [new ServicePrincipal('s3.amazonaws.com')],
        actions: ['s3:PutObject'],
        resources: [inventoryBucket.arnForObjects(`${INVENTORY_PREFIX}/*`)],
        conditions: {
          ArnLike: { 'aws:SourceArn': bucket.bucketArn },
          StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
        },
      }),
    );
    return {
      bucket,
      accessLogsBucket,
      ...(inventoryBucket === undefined
        ? {}
        : {
            inventory: {
              bucket: inventoryBucket,
              prefix: `${INVENTORY_PREFIX}/${bucket.bucketName}/${INVENTORY_ID}/`,
            },
          }),
    };
  }

  /** The reports' bucket: SSE-S3 (S3 writes reports to it as a service), private, TLS only, two weeks. */
  private createInventoryBucket(removalPolicy: RemovalPolicy, accessLogsBucket: IBucket): Bucket {
    return new Bucket(this, 'Inventory', {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      serverAccessLogsBucket: accessLogsBucket,
      serverAccessLogsPrefix: 'wal-inventory/',
      removalPolicy,
      // A full reconcile reads the newest report only; older ones are kept a little for looking back.
      lifecycleRules: [{ id: 'ExpireReports', expiration: Duration.days(14) }],
    });
  }

  private createAccessLogsBucket(removalPolicy: RemovalPolicy): IBucket {
    const logs = new Bucket(this, 'AccessLogs', {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      versioned: true,
      removalPolicy,
      lifecycleRules: [
        {
          id: 'ExpireAccessLogs',
          expiration: Duration.days(400),
          noncurrentVersionExpiration: Duration.days(30),
        },
      ],
    });
    Validations.of(logs).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This bucket is the access-log target of the WAL archive; logging it into itself would loop.',
    });
    return logs;
  }
}

function validateArchiveRoots(roots: readonly string[]): readonly string[] {
  for (const root of roots) {
    if (Token.isUnresolved(root)) {
      continue;
    }
    if (root.length === 0 || root.startsWith('/') || !root.endsWith('/')) {
      throw new WalArchiveBucketError(
        `archiveRoots entries are key prefixes ending in '/' without a leading '/', got '${root}'`,
      );
    }
  }
  for (const a of roots) {
    for (const b of roots) {
      if (a !== b && b.startsWith(a)) {
        throw new WalArchiveBucketError(
          `archiveRoots may not nest (S3 rejects overlapping filters), got '${a}' and '${b}'`,
        );
      }
    }
  }
  if (new Set(roots).size !== roots.length) {
    throw new WalArchiveBucketError(`archiveRoots has duplicates: [${roots.join(', ')}]`);
  }
  return roots;
}

function rejectCreationProps(props: WalArchiveBucketProps): void {
  const creationOnly = [
    'encryption',
    'encryptionKey',
    'noncurrentVersionExpiration',
    'abortIncompleteMultipartUploadAfter',
    'objectLockDefaultRetention',
    'serverAccessLogsBucket',
    'removalPolicy',
    'inventory',
  ] as const;
  const set = creationOnly.filter((name) => props[name] !== undefined);
  if (set.length > 0) {
    throw new WalArchiveBucketError(
      `existingBucket is adopted as it is; these properties only apply to a new bucket: ${set.join(', ')}`,
    );
  }
}

/**
 * CDK writes S3 notification configurations through one singleton Lambda-backed custom resource
 * per stack (it merges with configurations made outside CloudFormation, which adoption needs).
 * Its shape is fixed by CDK, so its one finding is acknowledged here, with the reason.
 */
function acknowledgeNotificationsHandler(stack: Stack): void {
  const handler = stack.node.tryFindChild('BucketNotificationsHandler050a0587b7544547bf325f094a3db834');
  if (handler === undefined) {
    return;
  }
  const reasons: [string, string][] = [
    [
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'CDK-owned handler that writes the bucket notification configuration at deploy time; it only needs log access.',
    ],
  ];
  for (const [id, reason] of reasons) {
    Validations.of(handler).acknowledge({ id, reason });
  }
}
