import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import {
  FlowLogDestination,
  FlowLogTrafficType,
  GatewayVpcEndpointAwsService,
  InterfaceVpcEndpointAwsService,
  type IVpc,
  Peer,
  Port,
  SecurityGroup,
  type SubnetSelection,
  SubnetType,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import {
  Cluster,
  ContainerImage,
  ContainerInsights,
  CpuArchitecture,
  FargatePlatformVersion,
  FargateTaskDefinition,
  LogDrivers,
  OperatingSystemFamily,
} from 'aws-cdk-lib/aws-ecs';
import { Rule, type Schedule } from 'aws-cdk-lib/aws-events';
import { EcsTask } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ENV } from '../../shared/config/env.js';
import { CLUSTER_INDEX } from '../../shared/store/table.js';
import { acknowledgeWildcardResource } from './acknowledge.js';
import { FLEET_ACCESS, TABLE_ACCESS } from './monitor-grants.js';

/** Where the image's build context lives: the repository root. */
const REPOSITORY_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * What the image build needs of the repository; everything else stays out of the staged context (and so of
 * the asset hash: a test or README edit does not rebuild the image).
 */
const IMAGE_CONTEXT_EXCLUDES = [
  '*',
  '!package.json',
  '!package-lock.json',
  '!tsconfig.json',
  '!bin/**',
  '!cli/**',
  '!functions/**',
  '!shared/**',
  '!infra/drill-image/**',
];

/** Options of the scheduled restore drill ({@link RestoreDrillTaskProps}, `WalBackupMonitorProps.restoreDrill`). */
export interface RestoreDrillOptions {
  /** When the drill task runs, e.g. `Schedule.cron({ hour: '3', minute: '0' })` or `Schedule.rate(Duration.days(1))`. */
  readonly schedule: Schedule;
  /**
   * Cluster ids to drill, in order, one after the other in each run.
   *
   * @default - every watched cluster (each archive root without its trailing `/`)
   */
  readonly clusters?: readonly string[];
  /**
   * PostgreSQL major version of the image: the clusters drilled by one task must share it.
   *
   * @default - the `<major>` of the cluster ids (`spilo/<scope>/wal/<major>`) when they agree
   */
  readonly postgresMajor?: number;
  /**
   * Recovery target: `latest`, an ISO 8601 time with a zone, or an LSN.
   *
   * @default 'latest'
   */
  readonly target?: string;
  /**
   * The VPC the task runs in (private subnets, no public IP). It needs a route to S3, DynamoDB, ECR and
   * CloudWatch Logs: a NAT gateway or VPC endpoints.
   *
   * @default - a one-AZ VPC of isolated subnets with gateway endpoints for S3 and DynamoDB and interface
   * endpoints for ECR and CloudWatch Logs (no NAT gateway)
   */
  readonly vpc?: IVpc;
  /**
   * Subnets of `vpc` to run in.
   *
   * @default - the VPC's private subnets (isolated ones when it has no private subnets with egress)
   */
  readonly subnets?: SubnetSelection;
  /**
   * Task CPU units (1024 = 1 vCPU), a Fargate size.
   *
   * @default 1024
   */
  readonly cpu?: number;
  /**
   * Task memory in MiB, a Fargate size for `cpu`.
   *
   * @default 4096
   */
  readonly memoryLimitMiB?: number;
  /**
   * Task storage in GiB (21–200): the restored data directory, its downloaded parts and the WAL replayed.
   *
   * @default 50
   */
  readonly ephemeralStorageGiB?: number;
  /**
   * The sweeper's `drill-stale` threshold for the drilled clusters: alert when no drill verified them for
   * longer (`WALWATCH_DRILL_STALE_AFTER`).
   *
   * @default Duration.hours(72) (three daily drills)
   */
  readonly staleAfter?: Duration;
}

/** Properties of {@link RestoreDrillTask}. */
export interface RestoreDrillTaskProps extends RestoreDrillOptions {
  /** The archive bucket. */
  readonly archiveBucket: IBucket;
  /**
   * The archive's KMS key; the task may decrypt with it through S3 only.
   *
   * @default - none (SSE-S3)
   */
  readonly archiveKey?: IKey;
  /** The watched archive roots, each ending in `/`: the task may read and list only under them. */
  readonly archiveRoots: readonly string[];
  /** The walwatch table: the task writes only drill items. */
  readonly table: ITable;
  /** Table name and segment size settings for the task's environment. */
  readonly environment: Readonly<Record<string, string>>;
  /**
   * Retention of the task's logs.
   *
   * @default RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: RetentionDays;
  /**
   * What happens to the log group and flow logs when the stack is deleted.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** Raised when {@link RestoreDrillTask} gets a property it cannot use; the message shows the value. */
export class RestoreDrillTaskError extends Error {
  override readonly name = 'RestoreDrillTaskError';
}

/**
 * A scheduled restore drill: an EventBridge rule starts an ECS Fargate task (ARM64, private subnets, no
 * public IP) whose image, built by the CDK app, holds PostgreSQL of the clusters' major version and
 * walwatch. The task restores each cluster's archive with real PostgreSQL, compares what it reached with
 * walwatch's prediction and writes the drill record into the table. It may only read (and list) the
 * archive roots and write drill items.
 */
export class RestoreDrillTask extends Construct {
  /** The ECS cluster the task runs in. */
  public readonly cluster: Cluster;
  /** The task definition (its task role holds the archive read and drill write grants). */
  public readonly taskDefinition: FargateTaskDefinition;
  /** The task's security group: no inbound rules, HTTPS out only. */
  public readonly securityGroup: SecurityGroup;
  /** The VPC the task runs in. */
  public readonly vpc: IVpc;
  /** The schedule. */
  public readonly rule: Rule;
  /** The task's log group. */
  public readonly logGroup: LogGroup;
  /** The clusters drilled, in order. */
  public readonly clusters: readonly string[];
  /** The `drill-stale` threshold. */
  public readonly staleAfter: Duration;

  constructor(scope: Construct, id: string, props: RestoreDrillTaskProps) {
    super(scope, id);
    const settings = validate(props);
    this.clusters = settings.clusters;
    this.staleAfter = settings.staleAfter;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const stack = Stack.of(this);

    this.vpc = props.vpc ?? this.createVpc(removalPolicy);
    const subnets: SubnetSelection = props.subnets ?? {
      subnetType:
        this.vpc.privateSubnets.length > 0 ? SubnetType.PRIVATE_WITH_EGRESS : SubnetType.PRIVATE_ISOLATED,
    };

    this.cluster = new Cluster(this, 'Cluster', {
      vpc: this.vpc,
      containerInsightsV2: ContainerInsights.ENABLED,
    });
    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention ?? RetentionDays.THREE_MONTHS,
      removalPolicy,
    });
    this.taskDefinition = new FargateTaskDefinition(this, 'Task', {
      cpu: settings.cpu,
      memoryLimitMiB: settings.memoryLimitMiB,
      ephemeralStorageGiB: settings.ephemeralStorageGiB,
      runtimePlatform: {
        cpuArchitecture: CpuArchitecture.ARM64,
        operatingSystemFamily: OperatingSystemFamily.LINUX,
      },
    });
    this.taskDefinition.addContainer('Drill', {
      image: ContainerImage.fromAsset(REPOSITORY_ROOT, {
        file: 'infra/drill-image/Dockerfile',
        buildArgs: { PG_MAJOR: String(settings.postgresMajor) },
        platform: Platform.LINUX_ARM64,
        exclude: IMAGE_CONTEXT_EXCLUDES,
      }),
      logging: LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: 'drill' }),
      environment: {
        ...props.environment,
        [ENV.archiveBucketName]: props.archiveBucket.bucketName,
        [ENV.drillTargets]: settings.clusters.join(','),
        [ENV.drillTarget]: settings.target,
      },
    });
    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'The environment holds only names (bucket, table, cluster ids, the recovery target, segment sizes); the task has no secrets, its AWS access comes from the task role.',
    });
    this.grantAccess(props, stack);

    this.securityGroup = new SecurityGroup(this, 'SecurityGroup', {
      vpc: this.vpc,
      description:
        'walwatch restore drill task: no inbound, HTTPS out to S3, DynamoDB, ECR and CloudWatch Logs',
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(Peer.anyIpv4(), Port.tcp(443), 'HTTPS to the AWS APIs the task calls');

    this.rule = new Rule(this, 'Schedule', {
      description: `walwatch: restore drill of ${settings.clusters.join(', ')}`,
      schedule: props.schedule,
      targets: [
        new EcsTask({
          cluster: this.cluster,
          taskDefinition: this.taskDefinition,
          subnetSelection: subnets,
          securityGroups: [this.securityGroup],
          assignPublicIp: false,
          platformVersion: FargatePlatformVersion.LATEST,
          retryAttempts: 2,
          maxEventAge: Duration.hours(1),
        }),
      ],
    });
    Validations.of(this.rule).acknowledge({
      id: 'Serverless-EventBusDLQ',
      reason:
        'The schedule event carries nothing to replay: a lost start is replaced by the next run, and a cluster without a verified drill alerts as drill-stale.',
    });
  }

  private grantAccess(props: RestoreDrillTaskProps, stack: Stack): void {
    const role = this.taskDefinition.taskRole;
    const objects = props.archiveRoots.map((root) => props.archiveBucket.arnForObjects(`${root}*`));
    role.addToPrincipalPolicy(
      new PolicyStatement({ sid: 'ReadArchiveRoots', actions: ['s3:GetObject'], resources: objects }),
    );
    for (const resource of objects) {
      acknowledgeWildcardResource(
        this.taskDefinition,
        resource,
        'A restore reads every backup part, sentinel and WAL segment under the drilled archive roots, and only there; read-only.',
      );
    }
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'ListArchiveRoots',
        actions: ['s3:ListBucket'],
        resources: [props.archiveBucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': props.archiveRoots.map((root) => `${root}*`) } },
      }),
    );
    if (props.archiveKey !== undefined) {
      role.addToPrincipalPolicy(
        new PolicyStatement({
          sid: 'DecryptArchiveThroughS3',
          actions: ['kms:Decrypt'],
          resources: [props.archiveKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `s3.${stack.region}.${stack.urlSuffix}` } },
        }),
      );
    }
    // Drill items are `d#<started-at>#<cluster>`, listed in the index partition `d#<cluster>`.
    const drillItemsOnly = {
      'ForAllValues:StringLike': {
        'dynamodb:LeadingKeys': TABLE_ACCESS.drillTask.itemPrefixes.map((prefix) => `${prefix}*`),
      },
    };
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'WriteDrillItems',
        actions: [...TABLE_ACCESS.drillTask.writes],
        resources: [props.table.tableArn],
        conditions: drillItemsOnly,
      }),
    );
    // A stored drill marks its cluster's fleet row (f#<cluster>), so the sweeper re-analyses the cluster.
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'MarkFleetRows',
        actions: [...FLEET_ACCESS.mark],
        resources: [props.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${FLEET_ACCESS.rowPrefix}*`] } },
      }),
    );
    role.addToPrincipalPolicy(
      new PolicyStatement({
        sid: 'ListDrillItems',
        actions: [...TABLE_ACCESS.drillTask.index],
        resources: [`${props.table.tableArn}/index/${CLUSTER_INDEX}`],
        conditions: drillItemsOnly,
      }),
    );
    // CDK's execution role pulls the image and writes the log group: ecr:GetAuthorizationToken has no
    // resource-level permissions, so it is granted on "*".
    acknowledgeWildcardResource(
      this.taskDefinition,
      '*',
      'The task execution role CDK creates: ecr:GetAuthorizationToken supports no resource-level permissions; image pulls and log writes stay limited to the asset repository and the task log group.',
    );
    // The schedule's role may tag and describe the tasks it starts, whose ids it cannot know in advance.
    acknowledgeWildcardResource(
      this.taskDefinition,
      `arn:${stack.partition}:ecs:${stack.region}:*:task/${this.cluster.clusterName}/*`,
      'The EventBridge role of the schedule (created by the EcsTask target) acts on the tasks it starts in this ECS cluster only; task ids are not known before they run.',
    );
  }

  /** A VPC with no route to the internet: isolated subnets in one AZ and the endpoints the task needs. */
  private createVpc(removalPolicy: RemovalPolicy): Vpc {
    const flowLogs = new LogGroup(this, 'FlowLogs', { retention: RetentionDays.THREE_MONTHS, removalPolicy });
    const vpc = new Vpc(this, 'Vpc', {
      maxAzs: 1,
      natGateways: 0,
      subnetConfiguration: [{ name: 'Drill', subnetType: SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      // Gateway endpoints cost nothing: backup parts and WAL from S3 (and ECR's image layers, which live in
      // S3) and the drill items to DynamoDB never leave AWS's network.
      gatewayEndpoints: {
        S3: { service: GatewayVpcEndpointAwsService.S3 },
        DynamoDb: { service: GatewayVpcEndpointAwsService.DYNAMODB },
      },
      flowLogs: {
        All: {
          destination: FlowLogDestination.toCloudWatchLogs(flowLogs),
          trafficType: FlowLogTrafficType.ALL,
        },
      },
    });
    for (const [name, service] of [
      ['EcrApi', InterfaceVpcEndpointAwsService.ECR],
      ['EcrDocker', InterfaceVpcEndpointAwsService.ECR_DOCKER],
      ['Logs', InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS],
    ] as const) {
      vpc.addInterfaceEndpoint(name, { service, privateDnsEnabled: true });
    }
    return vpc;
  }
}

interface DrillSettings {
  readonly clusters: readonly string[];
  readonly postgresMajor: number;
  readonly target: string;
  readonly cpu: number;
  readonly memoryLimitMiB: number;
  readonly ephemeralStorageGiB: number;
  readonly staleAfter: Duration;
}

function validate(props: RestoreDrillTaskProps): DrillSettings {
  const clusters = props.clusters ?? props.archiveRoots.map((root) => root.slice(0, -1));
  if (clusters.length === 0)
    throw new RestoreDrillTaskError('restoreDrill.clusters must name a cluster, got []');
  for (const cluster of clusters) {
    if (cluster.includes(',') || !props.archiveRoots.some((root) => `${cluster}/`.startsWith(root)))
      throw new RestoreDrillTaskError(
        `restoreDrill.clusters are cluster ids under one of [${props.archiveRoots.join(', ')}], got '${cluster}'`,
      );
  }
  const majors = new Set(clusters.map((cluster) => /\/wal\/(\d+)$/.exec(cluster)?.[1]));
  const postgresMajor = props.postgresMajor ?? (majors.size === 1 ? Number([...majors][0]) : Number.NaN);
  if (!Number.isInteger(postgresMajor) || postgresMajor < 10)
    throw new RestoreDrillTaskError(
      `restoreDrill.postgresMajor must be a PostgreSQL major version (10 or later) shared by the drilled clusters; give it when the ids do not end in /wal/<major> or differ, got ${props.postgresMajor ?? `[${[...majors].join(', ')}]`}`,
    );
  const target = props.target ?? 'latest';
  if (target.length === 0 || target.length > 64)
    throw new RestoreDrillTaskError(`restoreDrill.target must be 1 to 64 characters, got '${target}'`);
  const ephemeralStorageGiB = props.ephemeralStorageGiB ?? 50;
  if (!Number.isInteger(ephemeralStorageGiB) || ephemeralStorageGiB < 21 || ephemeralStorageGiB > 200)
    throw new RestoreDrillTaskError(
      `restoreDrill.ephemeralStorageGiB must be a whole number from 21 to 200, got ${ephemeralStorageGiB}`,
    );
  const staleAfter = props.staleAfter ?? Duration.hours(72);
  if (staleAfter.toMilliseconds() < 3_600_000)
    throw new RestoreDrillTaskError(
      `restoreDrill.staleAfter must be at least 1 hour, got ${staleAfter.toHumanString()}`,
    );
  return {
    clusters,
    postgresMajor,
    target,
    cpu: props.cpu ?? 1024,
    memoryLimitMiB: props.memoryLimitMiB ?? 4096,
    ephemeralStorageGiB,
    staleAfter,
  };
}
