import {
  Annotations,
  CfnOutput,
  Duration,
  RemovalPolicy,
  type Size,
  Stack,
  type StackProps,
  Validations,
} from 'aws-cdk-lib';
import {
  FlowLogDestination,
  FlowLogTrafficType,
  GatewayVpcEndpointAwsService,
  type IMachineImage,
  type InstanceType,
  type IVpc,
  Peer,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { Schedule } from 'aws-cdk-lib/aws-events';
import { Key } from 'aws-cdk-lib/aws-kms';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Bucket, ObjectLockRetention } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import type { ContentMode, ContentPolicy } from '../../shared/config/content-policy.js';
import { type SpiloCloneSource, SpiloCluster } from '../constructs/spilo-cluster.js';
import { WalArchiveBucket, type WalArchiveEncryption } from '../constructs/wal-archive-bucket.js';
import { WalBackupMonitor } from '../constructs/wal-backup-monitor.js';

/** Properties of {@link WalwatchStack}: the seed scenario, one Spilo cluster archiving to one bucket. */
export interface WalwatchStackProps extends StackProps {
  /** Patroni scope of the cluster. */
  readonly clusterScope: string;
  /**
   * PostgreSQL major version.
   *
   * @default '17'
   */
  readonly pgVersion?: string;
  /**
   * Spilo image.
   *
   * @default - `SpiloCluster`'s default
   */
  readonly spiloImage?: string;
  /**
   * Number of Spilo nodes.
   *
   * @default 3
   */
  readonly instanceCount?: number;
  /**
   * Instance type of the nodes.
   *
   * @default - `SpiloCluster`'s default (m7i.large)
   */
  readonly instanceType?: InstanceType;
  /**
   * Data volume size per node.
   *
   * @default - `SpiloCluster`'s default (100 GiB)
   */
  readonly dataVolumeSize?: Size;
  /**
   * Node AMI; pin it so a new Amazon Linux release does not mean new database nodes.
   *
   * @default - latest Amazon Linux 2023 at deploy time
   */
  readonly machineImage?: IMachineImage;
  /**
   * etcd endpoints (`host:port`) of an existing etcd cluster.
   *
   * @default - none; then `etcdOnNodes` must be true
   */
  readonly etcdEndpoints?: readonly string[];
  /**
   * Run etcd on the Spilo nodes.
   *
   * @default false
   */
  readonly etcdOnNodes?: boolean;
  /** Name of the Secrets Manager secret with the etcd TLS material (`{"ca","cert","key"}`). */
  readonly etcdTlsSecretName: string;
  /**
   * Existing VPC to use (looked up; needs an explicit account and region).
   *
   * @default - a new VPC with private subnets, one NAT gateway, an S3 gateway endpoint and flow logs
   */
  readonly vpcId?: string;
  /**
   * Name of an existing archive bucket to adopt instead of creating one.
   *
   * @default - a new bucket
   */
  readonly existingBucketName?: string;
  /**
   * ARN of the KMS key of the adopted bucket, if it uses SSE-KMS.
   *
   * @default - the adopted bucket uses SSE-S3
   */
  readonly existingBucketKeyArn?: string;
  /**
   * Encryption of a new bucket.
   *
   * @default WalArchiveEncryption.KMS
   */
  readonly bucketEncryption?: WalArchiveEncryption;
  /**
   * Governance-mode Object Lock default retention of a new bucket.
   *
   * @default - no Object Lock
   */
  readonly objectLockRetention?: Duration;
  /**
   * CIDR ranges allowed to connect to PostgreSQL.
   *
   * @default - none
   */
  readonly postgresClientCidrs?: readonly string[];
  /**
   * Create the cluster as a clone of another scope's archive.
   *
   * @default - a new, empty cluster
   */
  readonly cloneFrom?: SpiloCloneSource;
  /**
   * Base backup cron schedule.
   *
   * @default '0 1 * * *'
   */
  readonly backupSchedule?: string;
  /**
   * `BACKUP_NUM_TO_RETAIN`.
   *
   * @default 5
   */
  readonly backupsToRetain?: number;
  /**
   * Minutes between WAL heartbeats on the leader (see `SpiloClusterProps.walHeartbeatInterval`); 0 turns
   * the heartbeat off.
   *
   * @default 10
   */
  readonly walHeartbeatMinutes?: number;
  /**
   * `WALG_*` settings passed through to Spilo, e.g. `{ WALG_COMPRESSION_METHOD: 'zstd' }`.
   *
   * @default - none
   */
  readonly walgSettings?: Readonly<Record<string, string>>;
  /**
   * E-mail addresses that receive the monitor's alarms and alert e-mails (each confirms first).
   *
   * @default - none; subscribe to the `AlertTopicArn` output later
   */
  readonly alertEmails?: readonly string[];
  /**
   * Which WAL segment bodies the monitor reads, for every cluster or per cluster (see
   * `WalBackupMonitorProps.segmentContent`).
   *
   * @default 'chain-ends'
   */
  readonly segmentContent?: ContentMode | ContentPolicy;
  /**
   * Host the web dashboard (CloudFront, a Cognito user pool for sign-in, CORS on the API); see
   * `WalBackupMonitorProps.dashboardSite`.
   *
   * @default true
   */
  readonly dashboardSite?: boolean;
  /**
   * Run a restore drill of the cluster on this EventBridge schedule expression (`cron(0 3 * * ? *)`,
   * `rate(1 day)`), as an ECS Fargate task in the stack's private subnets (see
   * `WalBackupMonitorProps.restoreDrill`).
   *
   * @default - no drills
   */
  readonly restoreDrillSchedule?: string;
}

/**
 * The seed scenario as one stack: the WAL archive bucket, a VPC (or an existing one), the
 * Spilo/Patroni cluster archiving into it with WAL-G, and the serverless monitor watching it.
 *
 * The monitor takes `archive.bucket`, `archive.encryptionKey` and `archive.archiveRoots` (which hold
 * `cluster.archiveRoot`), owns its ingest queue and DLQ, and the stack then calls
 * `archive.notifyQueue(monitor.ingestQueue)`.
 */
export class WalwatchStack extends Stack {
  /** The archive bucket. */
  public readonly archive: WalArchiveBucket;
  /** The Spilo cluster. */
  public readonly cluster: SpiloCluster;
  /** The VPC the cluster runs in. */
  public readonly vpc: IVpc;
  /** The monitor of the archive. */
  public readonly monitor: WalBackupMonitor;

  constructor(scope: Construct, id: string, props: WalwatchStackProps) {
    super(scope, id, props);
    this.vpc =
      props.vpcId === undefined ? this.createVpc() : Vpc.fromLookup(this, 'Vpc', { vpcId: props.vpcId });

    const pgVersion = props.pgVersion ?? '17';
    const archiveRoot = `spilo/${props.clusterScope}/wal/${pgVersion}/`;
    this.archive = new WalArchiveBucket(this, 'Archive', {
      existingBucket:
        props.existingBucketName === undefined
          ? undefined
          : Bucket.fromBucketAttributes(this, 'ExistingBucket', {
              bucketName: props.existingBucketName,
              encryptionKey:
                props.existingBucketKeyArn === undefined
                  ? undefined
                  : Key.fromKeyArn(this, 'ExistingBucketKey', props.existingBucketKeyArn),
            }),
      encryption: props.existingBucketName === undefined ? props.bucketEncryption : undefined,
      objectLockDefaultRetention:
        props.objectLockRetention === undefined
          ? undefined
          : ObjectLockRetention.governance(props.objectLockRetention),
      archiveRoots: [archiveRoot],
    });

    this.cluster = new SpiloCluster(this, 'Cluster', {
      vpc: this.vpc,
      clusterScope: props.clusterScope,
      pgVersion,
      image: props.spiloImage,
      archiveBucket: this.archive.bucket,
      instanceCount: props.instanceCount,
      instanceType: props.instanceType,
      dataVolumeSize: props.dataVolumeSize,
      machineImage: props.machineImage,
      etcdEndpoints: props.etcdEndpoints,
      etcdOnNodes: props.etcdOnNodes,
      etcdTlsSecret: Secret.fromSecretNameV2(this, 'EtcdTls', props.etcdTlsSecretName),
      backupSchedule: props.backupSchedule,
      backupsToRetain: props.backupsToRetain,
      ...(props.walHeartbeatMinutes === undefined
        ? {}
        : props.walHeartbeatMinutes === 0
          ? { walHeartbeat: false }
          : { walHeartbeatInterval: Duration.minutes(props.walHeartbeatMinutes) }),
      walgSettings: props.walgSettings,
      cloneFrom: props.cloneFrom,
      postgresClients: (props.postgresClientCidrs ?? []).map((cidr) => Peer.ipv4(cidr)),
    });

    if (props.machineImage !== undefined) {
      Validations.of(this.cluster).acknowledge({
        id: 'CloudFormation-Validate::W9010',
        reason:
          'The node AMI is pinned on purpose (a changing AMI replaces database nodes); amiId is per region.',
      });
    } else {
      Annotations.of(this.cluster).addWarningV2(
        'walwatch:SpiloCluster.unpinnedAmi',
        'The Spilo nodes use the latest Amazon Linux 2023 AMI at each deploy; a new release replaces the nodes. Pin it with -c amiId=ami-….',
      );
    }

    this.monitor = new WalBackupMonitor(this, 'Monitor', {
      archiveBucket: this.archive.bucket,
      archiveKey: this.archive.encryptionKey,
      archiveRoots: this.archive.archiveRoots,
      archiveInventory: this.archive.inventory,
      alertEmails: props.alertEmails,
      segmentContent: props.segmentContent,
      dashboardSite: props.dashboardSite ?? true,
      restoreDrill:
        props.restoreDrillSchedule === undefined
          ? undefined
          : {
              schedule: Schedule.expression(props.restoreDrillSchedule),
              // The cluster's VPC: private subnets with a NAT gateway and the S3 gateway endpoint already.
              vpc: this.vpc,
            },
    });
    this.archive.notifyQueue(this.monitor.ingestQueue);

    new CfnOutput(this, 'ArchiveBucketName', { value: this.archive.bucket.bucketName });
    new CfnOutput(this, 'ArchiveRoot', { value: this.cluster.archiveRoot });
    new CfnOutput(this, 'NodeRoleArn', { value: this.cluster.role.roleArn });
    new CfnOutput(this, 'ApiUrl', {
      value: this.monitor.apiUrl,
      description: 'Base URL of the query API (SigV4, execute-api:Invoke)',
    });
    new CfnOutput(this, 'AlertTopicArn', { value: this.monitor.alertTopic.topicArn });
    new CfnOutput(this, 'MonitorTableName', { value: this.monitor.table.tableName });
    new CfnOutput(this, 'ReconcileFunctionName', {
      value: this.monitor.functions.reconcile.function.functionName,
      description: 'Invoke once with {"full": true} to adopt an archive that already holds objects',
    });
    new CfnOutput(this, 'DashboardName', { value: this.monitor.dashboard.dashboardName });
    const hosted = this.monitor.dashboardSite;
    if (hosted) {
      new CfnOutput(this, 'DashboardUrl', {
        value: hosted.site.url,
        description: 'The web dashboard; sign in with a user of DashboardUserPoolId',
      });
      new CfnOutput(this, 'DashboardUserPoolId', {
        value: hosted.signIn.userPool.userPoolId,
        description:
          'Create dashboard users here: aws cognito-idp admin-create-user --user-pool-id <this> --username …',
      });
    }
    new CfnOutput(this, 'NodeInstanceIds', {
      value: this.cluster.instances.map((instance) => instance.instanceId).join(','),
    });
  }

  private createVpc(): Vpc {
    const flowLogs = new LogGroup(this, 'FlowLogs', {
      retention: RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    return new Vpc(this, 'Vpc', {
      maxAzs: 3,
      // One NAT gateway keeps the idle cost down; WAL traffic to S3 bypasses it (gateway endpoint).
      natGateways: 1,
      subnetConfiguration: [
        { name: 'Public', subnetType: SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'Private', subnetType: SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
      ],
      gatewayEndpoints: { S3: { service: GatewayVpcEndpointAwsService.S3 } },
      flowLogs: {
        All: {
          destination: FlowLogDestination.toCloudWatchLogs(flowLogs),
          trafficType: FlowLogTrafficType.ALL,
        },
      },
    });
  }
}
