import { Duration, RemovalPolicy, type Size, Stack, Token, Validations } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import type { GeoRestriction } from 'aws-cdk-lib/aws-cloudfront';
import { type Alarm, ComparisonOperator, type Dashboard, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { type IKey, Key } from 'aws-cdk-lib/aws-kms';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  type ClusterMetricsMode,
  type ClusterMetricsPolicy,
  formatClusterMetricsPolicy,
  parseClusterMetricsPolicy,
} from '../../shared/config/cluster-metrics.js';
import type { ClusterSetting } from '../../shared/config/cluster-setting.js';
import {
  type ContentMode,
  type ContentPolicy,
  formatContentPolicy,
  parseContentPolicy,
  widestContentMode,
} from '../../shared/config/content-policy.js';
import { ENV } from '../../shared/config/env.js';
import {
  formatSegmentSizes,
  largestSegmentSize,
  parseSegmentSizes,
  type SegmentSizes,
} from '../../shared/config/segment-sizes.js';
import { DashboardSignIn } from './dashboard-sign-in.js';
import { DashboardSite } from './dashboard-site.js';
import {
  ALARM_DEFAULTS,
  createMonitorAlarms,
  freshnessAlarmSpecs,
  type MonitorAlarmSpec,
} from './monitor-alarms.js';
import { type ApiThrottle, createQueryApi } from './monitor-api.js';
import { createMonitorDashboard } from './monitor-dashboard.js';
import { grantMonitorAccess, type MonitorFunctions } from './monitor-grants.js';
import { createMonitorTable } from './monitor-table.js';
import { type RestoreDrillOptions, RestoreDrillTask } from './restore-drill-task.js';
import type { WalArchiveInventory } from './wal-archive-bucket.js';
import { functionEntry, WalwatchFunction } from './walwatch-function.js';

export type { ApiThrottle } from './monitor-api.js';

/** Properties of {@link WalBackupMonitor}. */
export interface WalBackupMonitorProps {
  /** The bucket WAL-G archives into (`WalArchiveBucket.bucket`). */
  readonly archiveBucket: IBucket;
  /**
   * The key the archive's objects are encrypted with; the monitor may decrypt with it through S3 only.
   *
   * @default - `archiveBucket.encryptionKey`; none for an SSE-S3 bucket
   */
  readonly archiveKey?: IKey;
  /**
   * Archive roots to watch, each ending in `/` (`WalArchiveBucket.archiveRoots`); the monitor may read
   * only the sentinels, `metadata.json` files and timeline histories under them, and list only them.
   */
  readonly archiveRoots: readonly string[];
  /**
   * Cluster ids (an archive root without its trailing `/`, e.g. `spilo/demo/wal/17`) that get alarms
   * of their own besides the fleet-wide ones.
   *
   * @default - one per archive root
   */
  readonly clusters?: readonly string[];
  /**
   * E-mail addresses subscribed to the alert topic (alarms and the sweeper's alert e-mails). Each
   * address gets a confirmation e-mail first.
   *
   * @default - none; subscribe later to the `AlertTopicArn` output
   */
  readonly alertEmails?: readonly string[];
  /**
   * Archive age above which alarms fire and the sweeper alerts (`WALWATCH_MAX_ARCHIVE_AGE`).
   *
   * @default Duration.hours(1) (2 × Spilo's `archive_timeout`)
   */
  readonly maxArchiveAge?: Duration;
  /**
   * Backup age above which alarms fire and the sweeper alerts (`WALWATCH_MAX_BACKUP_AGE`).
   *
   * @default Duration.hours(26) (a daily backup plus slack)
   */
  readonly maxBackupAge?: Duration;
  /**
   * How often reconcile lists what events may have missed. Events carry the archive; the head-based
   * reconcile only heals missed ones, at 2 LIST requests per cluster a run: hourly keeps the monitor within
   * $0.05 per cluster-month at 10,000 clusters (docs/aws.md), every 15 minutes adds ~$0.02 to that.
   *
   * @default Duration.hours(1)
   */
  readonly reconcileEvery?: Duration;
  /**
   * WAL segment size (`WALWATCH_SEGMENT_SIZE`), for every watched cluster or per cluster: `'auto'` (learnt
   * from each cluster's archive: backup history files, sentinels, page headers; 16 MiB until known) or a
   * size that overrides detection (still checked against the archive), as a default and overrides by
   * cluster id pattern, e.g. `{ default: 'auto', clusters: [{ pattern: 'spilo/big/*', value:
   * Size.gibibytes(1) }] }`. Functions that read segments get memory for the largest size set, counting a
   * cluster left to `auto` as 64 MiB: set the size of clusters with larger segments.
   *
   * @default 'auto'
   */
  readonly segmentSize?: Size | 'auto' | ClusterSetting<Size | 'auto'>;
  /**
   * Which WAL segment bodies are read (`WALWATCH_READ_CONTENT`), for every cluster or per cluster (a
   * default mode and overrides by cluster id pattern): `chain-ends`, the segment at the end of each
   * recovery chain, read by ingest as WAL arrives and by the sweeper as a backstop, for exact last commit
   * times (`s3:GetObject` on `<root>wal_005/*`); `all`, also every archived segment once by the sweeper,
   * storing its summary and finding the segments recovery cannot read (writes of summary and scan-cursor
   * items, more sweeper memory); `off`: only sentinels, `metadata.json` and history files are ever read.
   * Grants and memory follow the widest mode any cluster uses.
   *
   * @default 'chain-ends'
   */
  readonly segmentContent?: ContentMode | ContentPolicy;
  /**
   * Timeout of the ingest function; the queue's visibility timeout is six times this.
   *
   * @default Duration.minutes(1)
   */
  readonly ingestTimeout?: Duration;
  /**
   * Most concurrent ingest invocations the queue drives (2–1000); fewer means fewer state conflicts.
   *
   * @default 5
   */
  readonly ingestMaxConcurrency?: number;
  /**
   * Throttling of the query API's stage.
   *
   * @default { rateLimit: 20, burstLimit: 40 }
   */
  readonly apiThrottle?: ApiThrottle;
  /**
   * Retention of the functions' logs and the API access logs.
   *
   * @default RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: RetentionDays;
  /**
   * What happens to the table and the keys when the stack is deleted.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Host the web dashboard next to the API: a CloudFront distribution over a private bucket, a Cognito
   * user pool (administrator-created users, TOTP MFA) and an identity pool whose signed-in role may only
   * invoke the dashboard's API routes, and CORS on the API for the distribution's origin. `true` or
   * options turn it on.
   *
   * @default false
   */
  readonly dashboardSite?: boolean | DashboardSiteOptions;
  /**
   * Restore the archive on a schedule and hold what PostgreSQL reaches against walwatch's prediction: an
   * ECS Fargate task in private subnets, read-only on the archive roots, writing drill records that the
   * sweeper turns into `drill-failed`, `drill-mismatch` and `drill-stale` alerts (see `RestoreDrillTask`).
   *
   * @default - no drills
   */
  readonly restoreDrill?: RestoreDrillOptions;
  /**
   * Which clusters get CloudWatch metrics of their own (`WALWATCH_CLUSTER_METRICS`): `on`, `off` or `auto`
   * (on while the fleet has at most 50 clusters), for every cluster or with overrides by cluster id pattern.
   * Fleet-wide metrics and status counts are always emitted.
   *
   * @default - `auto`, and `on` for the `clusters` that have alarms of their own
   */
  readonly clusterMetrics?: ClusterMetricsMode | ClusterMetricsPolicy;
  /**
   * Fleet size above which the sweeper sends shards of the fleet over SQS to the sweep worker instead of
   * sweeping every cluster itself (`WALWATCH_SWEEP_FAN_OUT_ABOVE`).
   *
   * @default 1000
   */
  readonly sweepFanOutAbove?: number;
  /**
   * The archive bucket's S3 Inventory (`WalArchiveBucket.inventory`): a full reconcile then reads the newest
   * report and folds its data files in the reconcile worker, in parallel, instead of listing the bucket.
   *
   * @default - full reconciles list the bucket
   */
  readonly archiveInventory?: WalArchiveInventory;
}

/** Settings of the hosted dashboard ({@link WalBackupMonitorProps.dashboardSite}). */
export interface DashboardSiteOptions {
  /**
   * Let signed-in users acknowledge gaps; otherwise their role may only read.
   *
   * @default true
   */
  readonly allowAcknowledge?: boolean;
  /**
   * Countries the distribution serves (or refuses).
   *
   * @default - every country
   */
  readonly geoRestriction?: GeoRestriction;
}

/** Raised when {@link WalBackupMonitor} gets a property it cannot use; the message shows the value. */
export class WalBackupMonitorError extends Error {
  override readonly name = 'WalBackupMonitorError';
}

const EMAIL = /^[^\s@,]+@[^\s@,]+\.[^\s@,]+$/;

/**
 * walwatch's serverless monitor for one archive bucket: the archive's object events reach an
 * encrypted SQS queue (with a dead-letter queue) and the ingest function, which folds them into a
 * DynamoDB table; reconcile lists what events missed every 15 minutes; the sweeper re-analyses every
 * cluster every minute, emits metrics and sends alert e-mails through SNS; an HTTP API with IAM auth
 * serves reports and restore plans. CloudWatch alarms (fleet-wide and per declared cluster, dead
 * letters, errors, sweeper liveness) and a dashboard come with it.
 *
 * Wire the bucket's events to it with `WalArchiveBucket.notifyQueue(monitor.ingestQueue)`.
 *
 * @example
 * ```ts
 * const monitor = new WalBackupMonitor(this, 'Monitor', {
 *   archiveBucket: archive.bucket,
 *   archiveRoots: archive.archiveRoots,
 *   alertEmails: ['dba@example.com'],
 * });
 * archive.notifyQueue(monitor.ingestQueue);
 * ```
 */
export class WalBackupMonitor extends Construct {
  /** The queue the archive's S3 event notifications go to. */
  public readonly ingestQueue: Queue;
  /** Where messages go after five failed receives. */
  public readonly deadLetterQueue: Queue;
  /** The key of both queues; S3 may use it to send. */
  public readonly queueKey: Key;
  /** Facts, cluster states, acknowledgements and alert states (`shared/store/table.ts`). */
  public readonly table: Table;
  /** Alarms and the sweeper's alert e-mails. */
  public readonly alertTopic: Topic;
  /** The functions, by job. */
  public readonly functions: MonitorFunctions;
  /** Shards of a large fleet, from the sweeper to the sweep worker (with a dead-letter queue). */
  public readonly sweepQueue: Queue;
  /** The inventory's data files, from a full reconcile to the reconcile worker, with an inventory. */
  public readonly reconcileQueue?: Queue;
  /** Dead-letter queues of the fan-out queues. */
  public readonly fanOutDeadLetterQueues: readonly Queue[];
  /** The query API (IAM auth on every route). */
  public readonly api: HttpApi;
  /** Base URL of the query API. */
  public readonly apiUrl: string;
  /** The hosted dashboard and who may sign in to it, when `dashboardSite` is on. */
  public readonly dashboardSite?: { readonly site: DashboardSite; readonly signIn: DashboardSignIn };
  /** Every alarm of the monitor. */
  public readonly alarms: readonly Alarm[];
  /** The CloudWatch dashboard. */
  public readonly dashboard: Dashboard;
  /** Runs the sweeper every minute. */
  public readonly sweepSchedule: Rule;
  /** Runs reconcile every `reconcileEvery`. */
  public readonly reconcileSchedule: Rule;
  /** The scheduled restore drill, when `restoreDrill` is set. */
  public readonly restoreDrill?: RestoreDrillTask;

  constructor(scope: Construct, id: string, props: WalBackupMonitorProps) {
    super(scope, id);
    const settings = validate(props);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const logRetention = props.logRetention ?? RetentionDays.THREE_MONTHS;
    const archiveKey = props.archiveKey ?? props.archiveBucket.encryptionKey;

    this.queueKey = new Key(this, 'QueueKey', {
      description: 'Encrypts the walwatch ingest queue and its dead-letter queue',
      enableKeyRotation: true,
      removalPolicy,
    });
    this.deadLetterQueue = new Queue(this, 'IngestDlq', {
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: this.queueKey,
      dataKeyReuse: Duration.hours(1),
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge(
      { id: 'AwsSolutions-SQS3', reason: 'This queue is itself the dead-letter queue of the ingest queue.' },
      {
        id: 'Serverless-SQSRedrivePolicy',
        reason: 'A dead-letter queue has no dead-letter queue of its own.',
      },
    );
    this.ingestQueue = new Queue(this, 'IngestQueue', {
      encryption: QueueEncryption.KMS,
      encryptionMasterKey: this.queueKey,
      // One data key per hour instead of one per five minutes: S3 sends every archived segment.
      dataKeyReuse: Duration.hours(1),
      enforceSSL: true,
      // AWS's rule for SQS-triggered functions: at least six times the function timeout.
      visibilityTimeout: Duration.seconds(settings.ingestTimeout.toSeconds() * 6),
      retentionPeriod: Duration.days(14),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 5 },
    });

    const fanOut = (name: string, timeout: Duration, retention: Duration): { queue: Queue; dlq: Queue } => {
      const dlq = new Queue(this, `${name}Dlq`, {
        encryption: QueueEncryption.KMS,
        encryptionMasterKey: this.queueKey,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
      Validations.of(dlq).acknowledge(
        {
          id: 'AwsSolutions-SQS3',
          reason: `This queue is itself the dead-letter queue of the ${name} queue.`,
        },
        {
          id: 'Serverless-SQSRedrivePolicy',
          reason: 'A dead-letter queue has no dead-letter queue of its own.',
        },
      );
      const queue = new Queue(this, `${name}Queue`, {
        encryption: QueueEncryption.KMS,
        encryptionMasterKey: this.queueKey,
        enforceSSL: true,
        visibilityTimeout: Duration.seconds(timeout.toSeconds() * 6),
        retentionPeriod: retention,
        deadLetterQueue: { queue: dlq, maxReceiveCount: 3 },
      });
      return { queue, dlq };
    };
    // A shard is worth sweeping for a few minutes only: the next sweep covers the same clusters.
    const sweepQueues = fanOut('Sweep', SWEEP_WORKER_TIMEOUT, Duration.hours(1));
    this.sweepQueue = sweepQueues.queue;
    const reconcileQueues = props.archiveInventory
      ? fanOut('Reconcile', Duration.minutes(15), Duration.days(4))
      : undefined;
    this.reconcileQueue = reconcileQueues?.queue;
    this.fanOutDeadLetterQueues = [sweepQueues.dlq, ...(reconcileQueues ? [reconcileQueues.dlq] : [])];

    this.table = createMonitorTable(this, removalPolicy);

    const alertKey = new Key(this, 'AlertKey', {
      description: 'Encrypts the walwatch alert topic',
      enableKeyRotation: true,
      removalPolicy,
    });
    // CloudWatch alarms publish to an encrypted topic only if the key lets them.
    alertKey.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    this.alertTopic = new Topic(this, 'AlertTopic', {
      displayName: 'walwatch alerts',
      masterKey: alertKey,
      enforceSSL: true,
    });
    const stack = Stack.of(this);
    // The topic policy replaces SNS's default one, so CloudWatch's alarms of this account are named.
    this.alertTopic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.alertTopic.topicArn],
        conditions: {
          ArnLike: {
            'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*`,
          },
          StringEquals: { 'aws:SourceAccount': stack.account },
        },
      }),
    );
    for (const email of settings.alertEmails) {
      const subscription = this.alertTopic.addSubscription(new EmailSubscription(email));
      Validations.of(subscription).acknowledge({
        id: 'Serverless-SNSRedrivePolicy',
        reason:
          'An e-mail subscription: SNS retries delivery to the mail server, and the alert stays visible as alarm state and in GET /clusters; no one would read a queue of undelivered e-mails.',
      });
    }

    const contentPolicy = contentPolicyOf(props.segmentContent);
    const segmentContent = widestContentMode(contentPolicy);
    const segmentSizes = segmentSizesOf(props.segmentSize);
    const segmentMiB = largestSegmentSize(segmentSizes) / (1024 * 1024);
    /**
     * Memory of a function that reads segments: enough for a few copies of the largest one (64 MiB for
     * clusters whose size is detected).
     */
    const contentMemory = (base: number): number =>
      segmentContent === 'off' ? 512 : Math.max(base, 256 + 4 * segmentMiB);
    const pipelineEnvironment: Record<string, string> = {
      [ENV.archiveBucketName]: props.archiveBucket.bucketName,
      [ENV.archiveRoots]: props.archiveRoots.join(','),
      [ENV.tableName]: this.table.tableName,
      ...(props.segmentSize === undefined ? {} : { [ENV.segmentSize]: formatSegmentSizes(segmentSizes) }),
      [ENV.readContent]: formatContentPolicy(contentPolicy),
    };
    this.restoreDrill =
      props.restoreDrill === undefined
        ? undefined
        : new RestoreDrillTask(this, 'RestoreDrill', {
            ...props.restoreDrill,
            archiveBucket: props.archiveBucket,
            archiveKey,
            archiveRoots: props.archiveRoots,
            table: this.table,
            environment: {
              [ENV.tableName]: this.table.tableName,
              ...(props.segmentSize === undefined
                ? {}
                : { [ENV.segmentSize]: formatSegmentSizes(segmentSizes) }),
            },
            logRetention,
            removalPolicy,
          });
    const thresholdEnvironment: Record<string, string> = {
      [ENV.maxArchiveAge]: `${settings.maxArchiveAge.toSeconds()}s`,
      [ENV.maxBackupAge]: `${settings.maxBackupAge.toSeconds()}s`,
      ...(this.restoreDrill
        ? {
            [ENV.drillClusters]: `off; on=${this.restoreDrill.clusters.join(',')}`,
            [ENV.drillStaleAfter]: `${this.restoreDrill.staleAfter.toSeconds()}s`,
          }
        : {}),
    };
    const sweepEnvironment: Record<string, string> = {
      [ENV.clusterMetrics]: formatClusterMetricsPolicy(
        clusterMetricsPolicyOf(props.clusterMetrics, settings.clusters),
      ),
    };

    const ingest = new WalwatchFunction(this, 'Ingest', {
      entry: functionEntry('ingest'),
      description: 'walwatch: folds the archive bucket events from SQS into DynamoDB',
      timeout: settings.ingestTimeout,
      // Reading a chain end holds the compressed object and the whole decompressed segment.
      memorySize: contentMemory(512),
      environment: pipelineEnvironment,
      logRetention,
    });
    ingest.function.addEventSource(
      new SqsEventSource(this.ingestQueue, {
        batchSize: 100,
        maxBatchingWindow: Duration.seconds(5),
        reportBatchItemFailures: true,
        maxConcurrency: settings.ingestMaxConcurrency,
      }),
    );

    const reconcile = new WalwatchFunction(this, 'Reconcile', {
      entry: functionEntry('reconcile'),
      description: 'walwatch: lists what the archive events missed and folds it into DynamoDB',
      timeout: Duration.minutes(15),
      memorySize: 1024,
      environment: pipelineEnvironment,
      logRetention,
    });

    const apiFunction = new WalwatchFunction(this, 'ApiHandler', {
      entry: functionEntry('api'),
      description: 'walwatch: the query API behind API Gateway',
      timeout: Duration.seconds(10),
      memorySize: 512,
      environment: {
        [ENV.tableName]: this.table.tableName,
        [ENV.archiveBucketName]: props.archiveBucket.bucketName,
        ...thresholdEnvironment,
      },
      logRetention,
    });
    const siteOptions = props.dashboardSite === true ? {} : props.dashboardSite || undefined;
    // The site first: the API's CORS names the distribution's origin.
    const site =
      siteOptions === undefined
        ? undefined
        : new DashboardSite(this, 'DashboardSite', {
            removalPolicy,
            geoRestriction: siteOptions.geoRestriction,
          });
    const queryApi = createQueryApi(this, {
      handler: apiFunction.function,
      throttle: settings.apiThrottle,
      logRetention,
      corsOrigins: site ? [site.origin] : undefined,
    });
    this.api = queryApi.api;
    this.apiUrl = queryApi.url;
    if (site && siteOptions) {
      const signIn = new DashboardSignIn(this, 'DashboardSignIn', {
        api: this.api,
        allowAcknowledge: siteOptions.allowAcknowledge,
        removalPolicy,
      });
      const stack = Stack.of(this);
      site.publish({
        apiOrigin: `https://${this.api.apiId}.execute-api.${stack.region}.${stack.urlSuffix}`,
        config: {
          apiUrl: this.apiUrl,
          region: stack.region,
          userPoolId: signIn.userPool.userPoolId,
          userPoolClientId: signIn.userPoolClient.userPoolClientId,
          identityPoolId: signIn.identityPool.ref,
        },
      });
      this.dashboardSite = { site, signIn };
    }

    const sweeper = new WalwatchFunction(this, 'Sweeper', {
      entry: functionEntry('sweeper'),
      description: 'walwatch: re-analyses every cluster each minute, emits metrics, sends alerts',
      // Shorter than the schedule, so runs do not pile up.
      timeout: Duration.seconds(50),
      // Reading every segment decompresses and scans up to 16 MiB at a time: more memory, and the CPU with it.
      memorySize: contentMemory(segmentContent === 'all' ? 1769 : 512),
      // The next run is a minute away; a retry would only overlap it.
      retryAttempts: 0,
      environment: {
        [ENV.tableName]: this.table.tableName,
        [ENV.archiveBucketName]: props.archiveBucket.bucketName,
        [ENV.alertTopicArn]: this.alertTopic.topicArn,
        [ENV.apiUrl]: this.apiUrl,
        [ENV.readContent]: formatContentPolicy(contentPolicy),
        ...thresholdEnvironment,
        ...sweepEnvironment,
        [ENV.sweepQueueUrl]: this.sweepQueue.queueUrl,
        [ENV.sweepFanOutAbove]: String(settings.sweepFanOutAbove),
      },
      logRetention,
    });
    const sweepWorker = new WalwatchFunction(this, 'SweepWorker', {
      entry: functionEntry('sweep-worker'),
      description: 'walwatch: sweeps one shard of a large fleet, emits its metrics, sends its alerts',
      timeout: SWEEP_WORKER_TIMEOUT,
      memorySize: 512,
      environment: {
        [ENV.tableName]: this.table.tableName,
        [ENV.alertTopicArn]: this.alertTopic.topicArn,
        [ENV.apiUrl]: this.apiUrl,
        ...thresholdEnvironment,
        ...sweepEnvironment,
      },
      logRetention,
    });
    sweepWorker.function.addEventSource(
      new SqsEventSource(this.sweepQueue, {
        batchSize: 1,
        reportBatchItemFailures: true,
        // 40 shards of 250 at 10,000 clusters: ten at a time finish within the minute.
        maxConcurrency: 10,
      }),
    );

    let reconcileWorker: WalwatchFunction | undefined;
    if (this.reconcileQueue && props.archiveInventory) {
      reconcileWorker = new WalwatchFunction(this, 'ReconcileWorker', {
        entry: functionEntry('reconcile-worker'),
        description: 'walwatch: folds one S3 Inventory data file of a full reconcile into DynamoDB',
        timeout: Duration.minutes(15),
        memorySize: 1024,
        environment: pipelineEnvironment,
        logRetention,
      });
      reconcileWorker.function.addEventSource(
        new SqsEventSource(this.reconcileQueue, {
          batchSize: 1,
          reportBatchItemFailures: true,
          // Files hold any clusters' objects: more at once means more state conflicts, not more speed.
          maxConcurrency: 5,
        }),
      );
      reconcile.function.addEnvironment(
        ENV.inventoryLocation,
        `s3://${props.archiveInventory.bucket.bucketName}/${props.archiveInventory.prefix}`,
      );
      reconcile.function.addEnvironment(ENV.reconcileQueueUrl, this.reconcileQueue.queueUrl);
    }

    this.sweepSchedule = new Rule(this, 'SweepSchedule', {
      description: 'walwatch: run the sweeper every minute',
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(sweeper.function, { retryAttempts: 2, maxEventAge: Duration.minutes(1) })],
    });
    this.reconcileSchedule = new Rule(this, 'ReconcileSchedule', {
      description: 'walwatch: run reconcile from each cluster head',
      schedule: Schedule.rate(settings.reconcileEvery),
      targets: [
        new LambdaFunction(reconcile.function, { retryAttempts: 2, maxEventAge: settings.reconcileEvery }),
      ],
    });

    this.functions = {
      ingest,
      reconcile,
      sweeper,
      api: apiFunction,
      sweepWorker,
      ...(reconcileWorker ? { reconcileWorker } : {}),
    };
    grantMonitorAccess({
      queues: { sweep: this.sweepQueue, reconcile: this.reconcileQueue, key: this.queueKey },
      archiveInventory: props.archiveInventory,
      functions: this.functions,
      table: this.table,
      alertTopic: this.alertTopic,
      archiveBucket: props.archiveBucket,
      archiveKey,
      archiveRoots: props.archiveRoots,
      segmentContent,
    });
    this.acknowledgeFindings();

    const alarmSpecs: MonitorAlarmSpec[] = [
      ...freshnessAlarmSpecs(settings),
      {
        id: 'DeadLetters',
        metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: ALARM_DEFAULTS.period,
          statistic: 'Maximum',
        }),
        threshold: 0,
        comparison: ComparisonOperator.GREATER_THAN_THRESHOLD,
        // SQS stops reporting an idle queue's metrics; an idle dead-letter queue is the good case.
        missing: TreatMissingData.NOT_BREACHING,
        description: 'Archive events failed ingest five times and wait in the dead-letter queue.',
      },
      ...this.fanOutDeadLetterQueues.map(
        (queue, index): MonitorAlarmSpec => ({
          id: index === 0 ? 'SweepDeadLetters' : 'ReconcileDeadLetters',
          metric: queue.metricApproximateNumberOfMessagesVisible({
            period: ALARM_DEFAULTS.period,
            statistic: 'Maximum',
          }),
          threshold: 0,
          comparison: ComparisonOperator.GREATER_THAN_THRESHOLD,
          missing: TreatMissingData.NOT_BREACHING,
          description:
            index === 0
              ? 'Sweep shards failed three times (see the sweep worker log); their clusters are swept again next minute.'
              : 'Inventory data files failed to fold three times (see the reconcile worker log); redrive them after fixing.',
        }),
      ),
      {
        id: 'IngestBacklog',
        metric: this.ingestQueue.metricApproximateAgeOfOldestMessage({
          period: ALARM_DEFAULTS.period,
          statistic: 'Maximum',
        }),
        threshold: ALARM_DEFAULTS.maxIngestQueueAge.toSeconds(),
        comparison: ComparisonOperator.GREATER_THAN_THRESHOLD,
        missing: TreatMissingData.NOT_BREACHING,
        description: `Ingest is falling behind: an archive event has waited over ${ALARM_DEFAULTS.maxIngestQueueAge.toHumanString()}.`,
      },
      ...Object.entries(this.functions).map(
        ([name, fn]): MonitorAlarmSpec => ({
          id: `${name[0]?.toUpperCase()}${name.slice(1)}Errors`,
          metric: fn.function.metricErrors({ period: ALARM_DEFAULTS.period, statistic: 'Sum' }),
          threshold: 0,
          comparison: ComparisonOperator.GREATER_THAN_THRESHOLD,
          // No invocations means no errors.
          missing: TreatMissingData.NOT_BREACHING,
          description: `The ${name} function failed (see its log group).`,
        }),
      ),
    ];
    const alarmScope = new Construct(this, 'Alarms');
    const alarms = createMonitorAlarms(alarmScope, alarmSpecs, this.alertTopic);
    for (const cluster of settings.clusters) {
      const clusterScope = new Construct(alarmScope, `Cluster-${cluster.replace(/[^A-Za-z0-9]+/g, '-')}`);
      alarms.push(
        ...createMonitorAlarms(clusterScope, freshnessAlarmSpecs(settings, cluster), this.alertTopic),
      );
    }
    this.alarms = alarms;

    this.dashboard = createMonitorDashboard(this, 'Dashboard', {
      alarms,
      functions: Object.fromEntries(Object.entries(this.functions).map(([name, fn]) => [name, fn.function])),
      ingestQueue: this.ingestQueue,
      deadLetterQueue: this.deadLetterQueue,
    });
  }

  private acknowledgeFindings(): void {
    const { ingest, reconcile, sweeper, api, sweepWorker, reconcileWorker } = this.functions;
    const workers = [sweepWorker, ...(reconcileWorker ? [reconcileWorker] : [])];
    for (const fn of workers) {
      Validations.of(fn).acknowledge(
        {
          id: 'Serverless-LambdaDLQ',
          reason: 'Never invoked asynchronously: polled from its SQS queue, whose own DLQ holds failures.',
        },
        {
          id: 'Serverless-LambdaAsyncFailureDestination',
          reason: 'Never invoked asynchronously: polled from its SQS queue, whose own DLQ holds failures.',
        },
        {
          id: 'Serverless-LambdaEventSourceMappingDestination',
          reason:
            'SQS event source mappings take no on-failure destination; the queue redrives a message to its DLQ after 3 receives.',
        },
      );
    }
    for (const fn of [ingest, api]) {
      Validations.of(fn).acknowledge(
        {
          id: 'Serverless-LambdaDLQ',
          reason:
            'Never invoked asynchronously: ingest is polled from SQS (whose own DLQ holds failures), the API is invoked synchronously.',
        },
        {
          id: 'Serverless-LambdaAsyncFailureDestination',
          reason:
            'Never invoked asynchronously: ingest is polled from SQS (whose own DLQ holds failures), the API is invoked synchronously.',
        },
      );
    }
    Validations.of(ingest).acknowledge({
      id: 'Serverless-LambdaEventSourceMappingDestination',
      reason:
        'SQS event source mappings take no on-failure destination; the ingest queue redrives a message to its DLQ after 5 receives.',
    });
    for (const schedule of [this.sweepSchedule, this.reconcileSchedule]) {
      Validations.of(schedule).acknowledge({
        id: 'Serverless-EventBusDLQ',
        reason:
          'The schedule event is constant and carries nothing to replay; a lost tick is replaced by the next, and the sweeper liveness alarm fires if ticks stop.',
      });
    }
    for (const fn of [reconcile, sweeper]) {
      Validations.of(fn).acknowledge(
        {
          id: 'Serverless-LambdaDLQ',
          reason:
            'Scheduled with a constant empty event: the next scheduled run repeats the work, and the Errors alarm reports failures.',
        },
        {
          id: 'Serverless-LambdaAsyncFailureDestination',
          reason:
            'Scheduled with a constant empty event: the next scheduled run repeats the work, and the Errors alarm reports failures.',
        },
      );
    }
  }
}

interface MonitorSettings {
  readonly clusters: readonly string[];
  readonly alertEmails: readonly string[];
  readonly maxArchiveAge: Duration;
  readonly maxBackupAge: Duration;
  readonly reconcileEvery: Duration;
  readonly ingestTimeout: Duration;
  readonly ingestMaxConcurrency: number;
  readonly apiThrottle: ApiThrottle;
  readonly sweepFanOutAbove: number;
}

/** Timeout of the sweep worker: a shard must be done well within the minute of its sweep. */
const SWEEP_WORKER_TIMEOUT = Duration.seconds(50);

function validate(props: WalBackupMonitorProps): MonitorSettings {
  if (props.archiveRoots.length === 0) {
    throw new WalBackupMonitorError('archiveRoots must name at least one root, got []');
  }
  for (const root of props.archiveRoots) {
    if (
      !Token.isUnresolved(root) &&
      (root.length === 0 || root.startsWith('/') || !root.endsWith('/') || root.includes(','))
    ) {
      throw new WalBackupMonitorError(
        `archiveRoots entries are key prefixes ending in '/' without a leading '/' or a comma, got '${root}'`,
      );
    }
  }
  const clusters = props.clusters ?? props.archiveRoots.map((root) => root.slice(0, -1));
  for (const cluster of clusters) {
    if (cluster.endsWith('/') || !props.archiveRoots.some((root) => `${cluster}/`.startsWith(root))) {
      throw new WalBackupMonitorError(
        `clusters are archive roots without the trailing '/' under one of [${props.archiveRoots.join(', ')}], got '${cluster}'`,
      );
    }
  }
  const alertEmails = props.alertEmails ?? [];
  for (const email of alertEmails) {
    if (!EMAIL.test(email)) {
      throw new WalBackupMonitorError(`alertEmails must be e-mail addresses, got '${email}'`);
    }
  }
  const within = (name: string, value: Duration, min: Duration, max?: Duration): Duration => {
    const ms = value.toMilliseconds();
    if (ms < min.toMilliseconds() || (max !== undefined && ms > max.toMilliseconds())) {
      const range =
        max === undefined
          ? `at least ${min.toHumanString()}`
          : `from ${min.toHumanString()} to ${max.toHumanString()}`;
      throw new WalBackupMonitorError(`${name} must be ${range}, got ${value.toHumanString()}`);
    }
    return value;
  };
  const maxArchiveAge = within(
    'maxArchiveAge',
    props.maxArchiveAge ?? Duration.hours(1),
    Duration.minutes(5),
  );
  const maxBackupAge = within('maxBackupAge', props.maxBackupAge ?? Duration.hours(26), Duration.hours(1));
  const reconcileEvery = within(
    'reconcileEvery',
    props.reconcileEvery ?? Duration.hours(1),
    Duration.minutes(1),
    // The schedule target keeps an undelivered event for one interval, and EventBridge for a day at most.
    Duration.days(1),
  );
  if (reconcileEvery.toSeconds() % 60 !== 0) {
    throw new WalBackupMonitorError(
      `reconcileEvery must be whole minutes, got ${reconcileEvery.toHumanString()}`,
    );
  }
  const ingestTimeout = within(
    'ingestTimeout',
    props.ingestTimeout ?? Duration.minutes(1),
    Duration.seconds(10),
    Duration.minutes(15),
  );
  const ingestMaxConcurrency = props.ingestMaxConcurrency ?? 5;
  if (!Number.isInteger(ingestMaxConcurrency) || ingestMaxConcurrency < 2 || ingestMaxConcurrency > 1000) {
    throw new WalBackupMonitorError(
      `ingestMaxConcurrency must be a whole number from 2 to 1000, got ${ingestMaxConcurrency}`,
    );
  }
  const apiThrottle = props.apiThrottle ?? { rateLimit: 20, burstLimit: 40 };
  if (
    !(apiThrottle.rateLimit > 0) ||
    !Number.isInteger(apiThrottle.burstLimit) ||
    apiThrottle.burstLimit < 1
  ) {
    throw new WalBackupMonitorError(
      `apiThrottle needs a positive rateLimit and a whole burstLimit ≥ 1, got ${JSON.stringify(apiThrottle)}`,
    );
  }
  const sweepFanOutAbove = props.sweepFanOutAbove ?? 1000;
  if (!Number.isInteger(sweepFanOutAbove) || sweepFanOutAbove < 0) {
    throw new WalBackupMonitorError(`sweepFanOutAbove must be a whole number ≥ 0, got ${sweepFanOutAbove}`);
  }
  return {
    sweepFanOutAbove,
    clusters,
    alertEmails,
    maxArchiveAge,
    maxBackupAge,
    reconcileEvery,
    ingestTimeout,
    ingestMaxConcurrency,
    apiThrottle,
  };
}

/** The segment sizes of the props in bytes, checked: a size PostgreSQL cannot have, or a bad pattern, fails synth. */
function segmentSizesOf(setting: Size | 'auto' | ClusterSetting<Size | 'auto'> | undefined): SegmentSizes {
  const bytes = (value: Size | 'auto'): number | 'auto' => (value === 'auto' ? value : value.toBytes());
  try {
    if (setting === undefined) return parseSegmentSizes(undefined, 'segmentSize');
    const sizes: SegmentSizes =
      setting !== 'auto' && 'clusters' in setting
        ? {
            default: bytes(setting.default),
            clusters: setting.clusters.map(({ pattern, value }) => ({ pattern, value: bytes(value) })),
          }
        : { default: bytes(setting), clusters: [] };
    return parseSegmentSizes(formatSegmentSizes(sizes), 'segmentSize');
  } catch (error) {
    throw new WalBackupMonitorError((error as Error).message);
  }
}

/** The content policy of the props, checked: a pattern with spaces, or given twice, fails synth. */
function contentPolicyOf(setting: ContentMode | ContentPolicy | undefined): ContentPolicy {
  const policy = typeof setting === 'string' ? { default: setting, clusters: [] } : setting;
  if (policy === undefined) return parseContentPolicy(undefined, 'segmentContent');
  try {
    return parseContentPolicy(formatContentPolicy(policy), 'segmentContent');
  } catch (error) {
    throw new WalBackupMonitorError((error as Error).message);
  }
}

/**
 * The per-cluster metrics policy of the props, checked; by default `auto` with the declared clusters on, so
 * their alarms have data whatever the fleet's size.
 */
function clusterMetricsPolicyOf(
  setting: ClusterMetricsMode | ClusterMetricsPolicy | undefined,
  declared: readonly string[],
): ClusterMetricsPolicy {
  const policy: ClusterMetricsPolicy =
    setting === undefined
      ? { default: 'auto', clusters: declared.map((pattern) => ({ pattern, value: 'on' })) }
      : typeof setting === 'string'
        ? { default: setting, clusters: [] }
        : setting;
  try {
    return parseClusterMetricsPolicy(formatClusterMetricsPolicy(policy), 'clusterMetrics');
  } catch (error) {
    throw new WalBackupMonitorError((error as Error).message);
  }
}
