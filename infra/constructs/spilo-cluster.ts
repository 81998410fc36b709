import { Duration, Size, Stack, Token, Validations } from 'aws-cdk-lib';
import {
  BlockDeviceVolume,
  EbsDeviceVolumeType,
  type IMachineImage,
  Instance,
  InstanceClass,
  InstanceSize,
  InstanceType,
  type IPeer,
  type ISecurityGroup,
  type IVpc,
  MachineImage,
  Peer,
  Port,
  SecurityGroup,
  type SubnetSelection,
  SubnetType,
  UserData,
} from 'aws-cdk-lib/aws-ec2';
import {
  InstanceProfile,
  type IRole,
  ManagedPolicy,
  PolicyStatement,
  Role,
  ServicePrincipal,
} from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { ARecord, PrivateHostedZone, RecordTarget } from 'aws-cdk-lib/aws-route53';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ETCD_CLIENT_PORT, ETCD_PEER_PORT, renderEtcdUnit } from '../spilo/render-etcd-unit.js';
import { renderFetchSecretsScript } from '../spilo/render-fetch-secrets.js';
import { renderHeartbeatUnits } from '../spilo/render-heartbeat.js';
import { renderSpiloUnit } from '../spilo/render-unit.js';
import { renderUserData } from '../spilo/render-user-data.js';
import { buildSpiloEnvironment } from '../spilo/spilo-environment.js';
import { acknowledgeWildcardResource } from './acknowledge.js';

/** PostgreSQL's port on the nodes. */
export const POSTGRES_PORT = 5432;
/** Patroni's REST API port on the nodes. */
export const PATRONI_API_PORT = 8008;

/** Where a new cluster restores from: another scope's archive, optionally up to a point in time. */
export interface SpiloCloneSource {
  /** `SCOPE` of the cluster whose archive is restored; must differ from the new cluster's. */
  readonly sourceScope: string;
  /**
   * Recovery target, ISO 8601 with a timezone, e.g. `2026-11-24T12:40:33+01:00`.
   *
   * @default - recover to the end of the archive
   */
  readonly targetTime?: string;
  /**
   * Bucket holding the source archive.
   *
   * @default - the cluster's own archive bucket
   */
  readonly sourceBucket?: IBucket;
}

/** Properties of {@link SpiloCluster}. */
export interface SpiloClusterProps {
  /** VPC the nodes run in. */
  readonly vpc: IVpc;
  /**
   * Subnets for the nodes; nodes are spread over them round-robin.
   *
   * @default - the VPC's private subnets with egress
   */
  readonly vpcSubnets?: SubnetSelection;
  /** Patroni scope (Spilo's `SCOPE`): the cluster name, and the archive folder `spilo/<scope>/`. */
  readonly clusterScope: string;
  /**
   * PostgreSQL major version (`PGVERSION`); at most the image's own major version.
   *
   * @default '17'
   */
  readonly pgVersion?: string;
  /**
   * Spilo container image.
   *
   * @default 'ghcr.io/zalando/spilo-17:4.0-p3'
   */
  readonly image?: string;
  /** Bucket WAL-G archives into; its `encryptionKey`, if any, is used for SSE-KMS. */
  readonly archiveBucket: IBucket;
  /**
   * Number of nodes (one Patroni member each).
   *
   * @default 3
   */
  readonly instanceCount?: number;
  /**
   * EC2 instance type of the nodes.
   *
   * @default m7i.large
   */
  readonly instanceType?: InstanceType;
  /**
   * Node image; the user data expects Amazon Linux 2023 (dnf, the AWS CLI, python3). Pin it in
   * production: a new AMI means new instances.
   *
   * @default - the latest Amazon Linux 2023 AMI at deploy time
   */
  readonly machineImage?: IMachineImage;
  /**
   * Size of each node's encrypted gp3 data volume (`/home/postgres/pgdata` in the container).
   *
   * @default Size.gibibytes(100)
   */
  readonly dataVolumeSize?: Size;
  /**
   * etcd v3 client endpoints (`host:port`) of an existing etcd cluster, as in the seed setup.
   *
   * @default - none: `etcdOnNodes` must be true
   */
  readonly etcdEndpoints?: readonly string[];
  /**
   * Run an etcd member on every node instead of using `etcdEndpoints` (needs an odd count ≥ 3).
   * Members find each other through a private hosted zone `etcd.<scope>.walwatch.internal`; the
   * TLS certificate must name `*.etcd.<scope>.walwatch.internal`.
   *
   * @default false
   */
  readonly etcdOnNodes?: boolean;
  /**
   * etcd image used when `etcdOnNodes` is true.
   *
   * @default 'quay.io/coreos/etcd:v3.5.21'
   */
  readonly etcdImage?: string;
  /** Secret with the etcd TLS material: JSON `{"ca": PEM, "cert": PEM, "key": PEM}`. */
  readonly etcdTlsSecret: ISecret;
  /**
   * Plain-text password of the `postgres` superuser.
   *
   * @default - a generated secret
   */
  readonly superuserPasswordSecret?: ISecret;
  /**
   * Plain-text password of the `standby` replication user.
   *
   * @default - a generated secret
   */
  readonly replicationPasswordSecret?: ISecret;
  /**
   * Plain-text password of the `admin` role.
   *
   * @default - a generated secret
   */
  readonly adminPasswordSecret?: ISecret;
  /**
   * Cron expression for base backups (`BACKUP_SCHEDULE`).
   *
   * @default '0 1 * * *'
   */
  readonly backupSchedule?: string;
  /**
   * `BACKUP_NUM_TO_RETAIN`: Spilo keeps at least this many base backups and this many days.
   *
   * @default 5
   */
  readonly backupsToRetain?: number;
  /**
   * Whether Spilo's own retention (`wal-g delete before FIND_FULL` after each backup) runs on the
   * nodes, which then get `s3:DeleteObject` on their prefix. In a versioned bucket that only adds
   * delete markers: `s3:DeleteObjectVersion` is never granted, and noncurrent versions expire by
   * lifecycle. Set false to keep the nodes append-only and run retention elsewhere.
   *
   * @default true
   */
  readonly retentionOnNodes?: boolean;
  /**
   * Time between WAL heartbeats: a systemd timer on every node writes one logical message on the
   * Patroni leader (nothing on replicas), so an idle database still switches and archives a segment
   * within `archive_timeout` (1800 s) of each beat, and the monitor's `archive-stale` alert means that
   * archiving stopped rather than that nobody wrote. Whole minutes from 1 to 30; `undefined` with
   * `walHeartbeat: false` turns it off.
   *
   * @default Duration.minutes(10)
   */
  readonly walHeartbeatInterval?: Duration;
  /**
   * Whether the WAL heartbeat runs (see `walHeartbeatInterval`). Off, an idle database archives nothing
   * and `archive-stale` fires after the monitor's `maxArchiveAge`.
   *
   * @default true
   */
  readonly walHeartbeat?: boolean;
  /**
   * Extra `WALG_*` settings passed to Spilo unchanged, e.g. `{ WALG_COMPRESSION_METHOD: 'zstd' }`.
   *
   * @default - none
   */
  readonly walgSettings?: Readonly<Record<string, string>>;
  /**
   * Create the cluster as a point-in-time clone of another scope's archive (Spilo `CLONE_*`).
   *
   * @default - a new, empty cluster
   */
  readonly cloneFrom?: SpiloCloneSource;
  /**
   * Sources allowed to connect to PostgreSQL (5432), besides the nodes themselves.
   *
   * @default - none
   */
  readonly postgresClients?: readonly IPeer[];
  /**
   * Sources allowed to call the Patroni REST API (8008), e.g. a load balancer's health check.
   *
   * @default - none
   */
  readonly patroniApiClients?: readonly IPeer[];
}

/** Raised when {@link SpiloCluster} is given contradictory or malformed properties. */
export class SpiloClusterError extends Error {
  override readonly name = 'SpiloClusterError';
}

const SCOPE_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const TARGET_TIME_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const ENDPOINT_PATTERN = /^[A-Za-z0-9.-]+:(\d{1,5})$/;
const DATA_DEVICE = '/dev/sdf';

/**
 * A Patroni/PostgreSQL cluster of EC2 nodes running the Spilo image from a systemd unit with podman,
 * archiving with WAL-G to `s3://<bucket>/spilo/<scope>/wal/<major>/`.
 *
 * Nodes sit in private subnets, require IMDSv2, have encrypted volumes, no SSH (Session Manager
 * instead) and a security group that admits only PostgreSQL, the Patroni API and etcd between the
 * nodes and from the named sources. The instance role can touch only `spilo/<scope>/` in the bucket.
 *
 * @example
 * ```ts
 * new SpiloCluster(this, 'Cluster', { vpc, clusterScope: 'demo', archiveBucket: archive.bucket,
 *   etcdEndpoints: ['etcd-1.internal:2379'], etcdTlsSecret });
 * ```
 */
export class SpiloCluster extends Construct {
  /** The nodes, in member order. */
  public readonly instances: readonly Instance[];
  /** The role of the nodes. */
  public readonly role: IRole;
  /** The instance profile carrying {@link role}. */
  public readonly instanceProfile: InstanceProfile;
  /** Security group of the nodes. */
  public readonly securityGroup: ISecurityGroup;
  /** The cluster's folder in the bucket, `spilo/<scope>/`; the role is confined to it. */
  public readonly archivePrefix: string;
  /** Where WAL-G writes `wal_005/` and `basebackups_005/`: `spilo/<scope>/wal/<major>/`. */
  public readonly archiveRoot: string;
  /** The etcd client endpoints Patroni uses. */
  public readonly etcdEndpoints: readonly string[];
  /** The PostgreSQL password secrets, given or generated. */
  public readonly passwordSecrets: {
    readonly superuser: ISecret;
    readonly replication: ISecret;
    readonly admin: ISecret;
  };

  constructor(scope: Construct, id: string, props: SpiloClusterProps) {
    super(scope, id);
    const config = validateProps(props);
    const stack = Stack.of(this);
    this.archivePrefix = `spilo/${props.clusterScope}/`;
    this.archiveRoot = `${this.archivePrefix}wal/${config.pgVersion}/`;

    const subnets = props.vpc.selectSubnets(
      props.vpcSubnets ?? { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
    );
    if (subnets.subnets.length === 0) {
      throw new SpiloClusterError(`vpcSubnets selects no subnet in ${props.vpc.node.path}`);
    }

    const zoneName = `etcd.${props.clusterScope}.walwatch.internal`;
    const memberNames = Array.from({ length: config.instanceCount }, (_, i) => `node-${i}`);
    const memberHostNames = memberNames.map((name) => `${name}.${zoneName}`);
    this.etcdEndpoints = config.etcdOnNodes
      ? memberHostNames.map((host) => `${host}:${ETCD_CLIENT_PORT}`)
      : (props.etcdEndpoints ?? []);

    this.passwordSecrets = {
      superuser:
        props.superuserPasswordSecret ?? this.generatePassword('SuperuserPassword', 'postgres superuser'),
      replication:
        props.replicationPasswordSecret ??
        this.generatePassword('ReplicationPassword', 'standby replication user'),
      admin: props.adminPasswordSecret ?? this.generatePassword('AdminPassword', 'admin role'),
    };

    const role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('ec2.amazonaws.com'),
      description: `Spilo nodes of scope ${props.clusterScope}: WAL-G on spilo/${props.clusterScope}/ only`,
      managedPolicies: [ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });
    this.role = role;
    this.instanceProfile = new InstanceProfile(this, 'InstanceProfile', { role });
    this.grantArchiveAccess(role, props, config);
    for (const secret of [props.etcdTlsSecret, ...Object.values(this.passwordSecrets)]) {
      secret.grantRead(role);
    }

    this.securityGroup = this.createSecurityGroup(props, config);

    const environment = buildSpiloEnvironment({
      scope: props.clusterScope,
      pgVersion: config.pgVersion,
      region: stack.region,
      bucketName: props.archiveBucket.bucketName,
      etcdHosts: this.etcdEndpoints,
      backupSchedule: config.backupSchedule,
      backupsToRetain: config.backupsToRetain,
      kmsKeyArn: props.archiveBucket.encryptionKey?.keyArn,
      walgSettings: props.walgSettings,
      cloneFrom:
        props.cloneFrom === undefined
          ? undefined
          : {
              sourceScope: props.cloneFrom.sourceScope,
              sourceBucketName: (props.cloneFrom.sourceBucket ?? props.archiveBucket).bucketName,
              targetTime: props.cloneFrom.targetTime,
            },
    });
    const spiloUnit = renderSpiloUnit({
      image: config.image,
      environment,
      scope: props.clusterScope,
      etcdOnNode: config.etcdOnNodes,
    });
    const fetchSecretsScript = renderFetchSecretsScript({
      region: stack.region,
      // An imported secret known by name only has a partial ARN; its name is the safer id.
      etcdTlsSecretArn: props.etcdTlsSecret.secretFullArn ?? props.etcdTlsSecret.secretName,
      superuserPasswordSecretArn: this.passwordSecrets.superuser.secretArn,
      replicationPasswordSecretArn: this.passwordSecrets.replication.secretArn,
      adminPasswordSecretArn: this.passwordSecrets.admin.secretArn,
    });

    const zone = config.etcdOnNodes
      ? new PrivateHostedZone(this, 'EtcdZone', { zoneName, vpc: props.vpc })
      : undefined;

    const heartbeat =
      config.walHeartbeatMinutes === null
        ? undefined
        : renderHeartbeatUnits({ intervalMinutes: config.walHeartbeatMinutes });

    this.instances = memberNames.map((memberName, index) => {
      const etcdUnit = config.etcdOnNodes
        ? renderEtcdUnit({
            image: config.etcdImage,
            memberName,
            memberNames,
            memberHostNames,
            clusterToken: props.clusterScope,
            spiloImage: config.image,
          })
        : undefined;
      const subnet = subnets.subnets[index % subnets.subnets.length];
      const instance = new Instance(this, `Node${index}`, {
        vpc: props.vpc,
        vpcSubnets: { subnets: subnet === undefined ? [] : [subnet] },
        instanceType: config.instanceType,
        machineImage: props.machineImage ?? MachineImage.latestAmazonLinux2023(),
        instanceProfile: this.instanceProfile,
        securityGroup: this.securityGroup,
        requireImdsv2: true,
        detailedMonitoring: true,
        // Termination protection keeps a node and its data volume alive even when a stack update
        // replaces the instance (e.g. a new AMI): CloudFormation's cleanup then fails and the old
        // member keeps running until an operator removes it on purpose.
        disableApiTermination: true,
        associatePublicIpAddress: false,
        ebsOptimized: true,
        blockDevices: [
          {
            deviceName: '/dev/xvda',
            volume: BlockDeviceVolume.ebs(20, { encrypted: true, volumeType: EbsDeviceVolumeType.GP3 }),
          },
          {
            deviceName: DATA_DEVICE,
            volume: BlockDeviceVolume.ebs(config.dataVolumeSize.toGibibytes(), {
              encrypted: true,
              volumeType: EbsDeviceVolumeType.GP3,
            }),
          },
        ],
        userData: UserData.custom(
          renderUserData({
            dataDevice: DATA_DEVICE,
            fetchSecretsScript,
            spiloUnit,
            etcdUnit,
            ...(heartbeat ? { heartbeat } : {}),
          }),
        ),
      });
      if (zone !== undefined) {
        new ARecord(this, `EtcdRecord${index}`, {
          zone,
          recordName: memberName,
          target: RecordTarget.fromIpAddresses(instance.instancePrivateIp),
          ttl: Duration.seconds(60),
        });
      }
      return instance;
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
      reason:
        'Session Manager replaces SSH on the nodes; this AWS policy is its documented minimum and tracks API changes.',
    });
  }

  private generatePassword(id: string, what: string): ISecret {
    const secret = new Secret(this, id, {
      description: `Password of the ${what} of the Spilo cluster`,
      generateSecretString: { passwordLength: 32, excludePunctuation: true },
    });
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Patroni stores this password in PostgreSQL; rotating it needs a coordinated ALTER ROLE and restart, not a Lambda.',
    });
    return secret;
  }

  private grantArchiveAccess(role: Role, props: SpiloClusterProps, config: ValidConfig): void {
    const bucket = props.archiveBucket;
    const ownObjects = bucket.arnForObjects(`${this.archivePrefix}*`);
    role.addToPolicy(
      new PolicyStatement({
        sid: 'ListOwnPrefix',
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${this.archivePrefix}*`] } },
      }),
    );
    role.addToPolicy(
      new PolicyStatement({
        // WAL-G probes versioning and may look up the region; both are bucket metadata, no data.
        sid: 'ReadBucketSettings',
        actions: ['s3:GetBucketLocation', 's3:GetBucketVersioning'],
        resources: [bucket.bucketArn],
      }),
    );
    role.addToPolicy(
      new PolicyStatement({
        sid: 'ReadWriteOwnPrefix',
        actions: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'],
        resources: [ownObjects],
      }),
    );
    acknowledgeWildcardResource(
      role,
      ownObjects,
      `WAL-G names its objects at run time; the wildcard is confined to the cluster's own ${this.archivePrefix} folder.`,
    );
    if (config.retentionOnNodes) {
      role.addToPolicy(
        new PolicyStatement({
          sid: 'RetentionDeletesInOwnPrefix',
          actions: ['s3:DeleteObject'],
          resources: [ownObjects],
        }),
      );
    }
    const keys: IKey[] = bucket.encryptionKey === undefined ? [] : [bucket.encryptionKey];
    if (props.cloneFrom !== undefined) {
      const source = props.cloneFrom.sourceBucket ?? bucket;
      const sourcePrefix = `spilo/${props.cloneFrom.sourceScope}/`;
      role.addToPolicy(
        new PolicyStatement({
          sid: 'ListCloneSourcePrefix',
          actions: ['s3:ListBucket'],
          resources: [source.bucketArn],
          conditions: { StringLike: { 's3:prefix': [`${sourcePrefix}*`] } },
        }),
      );
      role.addToPolicy(
        new PolicyStatement({
          sid: 'ReadCloneSourcePrefix',
          actions: ['s3:GetObject'],
          resources: [source.arnForObjects(`${sourcePrefix}*`)],
        }),
      );
      acknowledgeWildcardResource(
        role,
        source.arnForObjects(`${sourcePrefix}*`),
        `A clone reads the backups and WAL of ${sourcePrefix} only, and only with s3:GetObject.`,
      );
      if (source.encryptionKey !== undefined && source.encryptionKey !== bucket.encryptionKey) {
        keys.push(source.encryptionKey);
      }
    }
    if (keys.length > 0) {
      role.addToPolicy(
        new PolicyStatement({
          sid: 'UseArchiveKeyThroughS3',
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: keys.map((key) => key.keyArn),
          conditions: { StringEquals: { 'kms:ViaService': `s3.${Stack.of(this).region}.amazonaws.com` } },
        }),
      );
    }
  }

  private createSecurityGroup(props: SpiloClusterProps, config: ValidConfig): SecurityGroup {
    const sg = new SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `Spilo nodes of scope ${props.clusterScope}`,
      allowAllOutbound: false,
    });
    const memberPorts: [number, string][] = [
      [POSTGRES_PORT, 'PostgreSQL replication'],
      [PATRONI_API_PORT, 'Patroni REST API'],
    ];
    if (config.etcdOnNodes) {
      memberPorts.push([ETCD_CLIENT_PORT, 'etcd clients'], [ETCD_PEER_PORT, 'etcd peers']);
    }
    for (const [port, what] of memberPorts) {
      sg.addIngressRule(sg, Port.tcp(port), `${what} between the nodes`);
      sg.addEgressRule(sg, Port.tcp(port), `${what} between the nodes`);
    }
    for (const peer of props.postgresClients ?? []) {
      sg.addIngressRule(peer, Port.tcp(POSTGRES_PORT), 'PostgreSQL from a named client');
    }
    for (const peer of props.patroniApiClients ?? []) {
      sg.addIngressRule(peer, Port.tcp(PATRONI_API_PORT), 'Patroni REST API from a named client');
    }
    // HTTPS reaches S3, Secrets Manager, Session Manager, the package mirrors and the image registry.
    sg.addEgressRule(Peer.anyIpv4(), Port.tcp(443), 'HTTPS to AWS APIs and the image registry');
    for (const port of config.externalEtcdPorts) {
      sg.addEgressRule(Peer.anyIpv4(), Port.tcp(port), 'etcd client endpoints of the existing etcd cluster');
    }
    return sg;
  }
}

interface ValidConfig {
  readonly pgVersion: string;
  readonly image: string;
  readonly etcdImage: string;
  readonly instanceCount: number;
  readonly instanceType: InstanceType;
  readonly dataVolumeSize: Size;
  readonly etcdOnNodes: boolean;
  readonly externalEtcdPorts: readonly number[];
  readonly backupSchedule: string;
  readonly backupsToRetain: number;
  readonly retentionOnNodes: boolean;
  /** Minutes between WAL heartbeats, `null` when off. */
  readonly walHeartbeatMinutes: number | null;
}

function validateProps(props: SpiloClusterProps): ValidConfig {
  const fail = (message: string): never => {
    throw new SpiloClusterError(message);
  };
  if (!SCOPE_PATTERN.test(props.clusterScope)) {
    fail(`clusterScope must be lower-case letters, digits and '-', 1-63 long, got '${props.clusterScope}'`);
  }
  const image = props.image ?? 'ghcr.io/zalando/spilo-17:4.0-p3';
  const pgVersion = props.pgVersion ?? '17';
  if (!/^\d{2}$/.test(pgVersion)) {
    fail(`pgVersion must be a PostgreSQL major version such as '17', got '${pgVersion}'`);
  }
  const imageMajor = /\/spilo-(\d+):/.exec(image)?.[1];
  if (imageMajor !== undefined && Number(pgVersion) > Number(imageMajor)) {
    fail(`pgVersion '${pgVersion}' is newer than the image's PostgreSQL ${imageMajor} (${image})`);
  }
  const instanceCount = props.instanceCount ?? 3;
  if (!Number.isInteger(instanceCount) || instanceCount < 1 || instanceCount > 9) {
    fail(`instanceCount must be an integer from 1 to 9, got ${instanceCount}`);
  }
  const etcdOnNodes = props.etcdOnNodes ?? false;
  const endpoints = props.etcdEndpoints ?? [];
  if (etcdOnNodes && endpoints.length > 0) {
    fail(`give etcdEndpoints or etcdOnNodes, not both; got etcdEndpoints [${endpoints.join(', ')}]`);
  }
  if (!etcdOnNodes && endpoints.length === 0) {
    fail('etcdEndpoints must name the existing etcd cluster (host:port) unless etcdOnNodes is true, got []');
  }
  if (etcdOnNodes && (instanceCount < 3 || instanceCount % 2 === 0)) {
    fail(`etcdOnNodes needs an odd instanceCount of at least 3 for a quorum, got ${instanceCount}`);
  }
  const externalEtcdPorts = new Set<number>();
  for (const endpoint of endpoints) {
    if (Token.isUnresolved(endpoint)) {
      fail(`etcdEndpoints must be known at synthesis (host:port), got a token: ${endpoint}`);
    }
    const port = ENDPOINT_PATTERN.exec(endpoint)?.[1];
    if (port === undefined || Number(port) < 1 || Number(port) > 65535) {
      fail(`etcdEndpoints entries must be host:port, got '${endpoint}'`);
    }
    externalEtcdPorts.add(Number(port));
  }
  const backupSchedule = props.backupSchedule ?? '0 1 * * *';
  if (backupSchedule.trim().split(/\s+/).length !== 5) {
    fail(`backupSchedule must be a 5-field cron expression, got '${backupSchedule}'`);
  }
  const backupsToRetain = props.backupsToRetain ?? 5;
  if (!Number.isInteger(backupsToRetain) || backupsToRetain < 2) {
    fail(`backupsToRetain must be an integer ≥ 2 (Spilo raises smaller values to 2), got ${backupsToRetain}`);
  }
  const dataVolumeSize = props.dataVolumeSize ?? Size.gibibytes(100);
  if (dataVolumeSize.toGibibytes() < 1) {
    fail(`dataVolumeSize must be at least 1 GiB, got ${dataVolumeSize.toGibibytes()} GiB`);
  }
  for (const peer of [...(props.postgresClients ?? []), ...(props.patroniApiClients ?? [])]) {
    if (peer.uniqueId === '0.0.0.0/0' || peer.uniqueId === '::/0') {
      fail(
        `postgresClients and patroniApiClients must be named sources, got the whole internet (${peer.uniqueId})`,
      );
    }
  }
  const heartbeatMinutes = (props.walHeartbeatInterval ?? Duration.minutes(10)).toMinutes({
    integral: false,
  });
  if (!Number.isInteger(heartbeatMinutes) || heartbeatMinutes < 1 || heartbeatMinutes > 30) {
    fail(
      `walHeartbeatInterval must be whole minutes from 1 to 30 (within Spilo's archive_timeout), got ${heartbeatMinutes} min`,
    );
  }
  const clone = props.cloneFrom;
  if (clone !== undefined) {
    if (clone.sourceScope === props.clusterScope) {
      fail(
        `cloneFrom.sourceScope must differ from clusterScope, or the clone would write into its source; got '${clone.sourceScope}'`,
      );
    }
    if (!SCOPE_PATTERN.test(clone.sourceScope)) {
      fail(`cloneFrom.sourceScope must be a Spilo scope, got '${clone.sourceScope}'`);
    }
    if (clone.targetTime !== undefined && !TARGET_TIME_PATTERN.test(clone.targetTime)) {
      fail(`cloneFrom.targetTime must be ISO 8601 with a timezone, got '${clone.targetTime}'`);
    }
  }
  return {
    pgVersion,
    image,
    etcdImage: props.etcdImage ?? 'quay.io/coreos/etcd:v3.5.21',
    instanceCount,
    instanceType: props.instanceType ?? InstanceType.of(InstanceClass.M7I, InstanceSize.LARGE),
    dataVolumeSize,
    etcdOnNodes,
    externalEtcdPorts: [...externalEtcdPorts].sort((a, b) => a - b),
    backupSchedule,
    backupsToRetain,
    retentionOnNodes: props.retentionOnNodes ?? true,
    walHeartbeatMinutes: props.walHeartbeat === false ? null : heartbeatMinutes,
  };
}
