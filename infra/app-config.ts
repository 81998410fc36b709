import { Duration, Size } from 'aws-cdk-lib';
import { InstanceType, MachineImage } from 'aws-cdk-lib/aws-ec2';
import { type ContentPolicy, parseContentPolicy } from '../shared/config/content-policy.js';
import { WalArchiveEncryption } from './constructs/wal-archive-bucket.js';
import type { WalwatchStackProps } from './stacks/walwatch-stack.js';

/** Reads one context value, as `App.node.tryGetContext` does. */
export type ContextReader = (key: string) => unknown;

/** Raised when a context value (`-c key=value` or `cdk.json`) is missing or malformed. */
export class AppConfigError extends Error {
  override readonly name = 'AppConfigError';
}

/** Everything `infra/app.ts` needs: where to deploy and the stack's properties. */
export interface AppConfig {
  /** Name of the CloudFormation stack. */
  readonly stackName: string;
  /** Properties of the stack, including its `env`. */
  readonly stackProps: WalwatchStackProps;
}

/**
 * The context keys the app reads, each documented in docs/aws.md (context values). CLI values
 * arrive as strings, `cdk.json` values may be typed; both are accepted.
 */
export const CONTEXT_KEYS = [
  'account',
  'region',
  'stackName',
  'scope',
  'pgVersion',
  'spiloImage',
  'instanceCount',
  'instanceType',
  'dataVolumeGiB',
  'amiId',
  'etcdEndpoints',
  'etcdOnNodes',
  'etcdTlsSecretName',
  'vpcId',
  'existingBucketName',
  'existingBucketKeyArn',
  'bucketEncryption',
  'objectLockDays',
  'postgresClientCidrs',
  'cloneFromScope',
  'cloneTargetTime',
  'backupSchedule',
  'backupsToRetain',
  'walHeartbeatMinutes',
  'walgSettings',
  'alertEmails',
  'segmentContent',
  'dashboardSite',
  'restoreDrillSchedule',
] as const;

/**
 * Turns CDK context into the stack's configuration, validating every value and naming the bad one.
 *
 * @example
 * ```ts
 * const config = readAppConfig((key) => app.node.tryGetContext(key));
 * new WalwatchStack(app, config.stackName, config.stackProps);
 * ```
 */
export function readAppConfig(read: ContextReader): AppConfig {
  const str = (key: string): string | undefined => {
    const value = read(key);
    if (value === undefined || value === null || value === '') {
      return undefined;
    }
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new AppConfigError(`context '${key}' must be a string, got ${JSON.stringify(value)}`);
    }
    return String(value);
  };
  const required = (key: string): string => {
    const value = str(key);
    if (value === undefined) {
      throw new AppConfigError(`context '${key}' is required (cdk.json or -c ${key}=…)`);
    }
    return value;
  };
  const int = (key: string): number | undefined => {
    const value = str(key);
    if (value === undefined) {
      return undefined;
    }
    if (!/^\d+$/.test(value)) {
      throw new AppConfigError(`context '${key}' must be a whole number, got '${value}'`);
    }
    return Number(value);
  };
  const bool = (key: string): boolean | undefined => {
    const value = str(key);
    if (value === undefined) {
      return undefined;
    }
    if (value !== 'true' && value !== 'false') {
      throw new AppConfigError(`context '${key}' must be true or false, got '${value}'`);
    }
    return value === 'true';
  };
  const list = (key: string): string[] | undefined => {
    const value = read(key);
    if (Array.isArray(value)) {
      return value.map(String);
    }
    const text = str(key);
    return text === undefined
      ? undefined
      : text
          .split(',')
          .map((item) => item.trim())
          .filter((item) => item.length > 0);
  };

  const stringMap = (key: string): Record<string, string> | undefined => {
    const raw = read(key);
    if (raw === undefined || raw === null || raw === '') {
      return undefined;
    }
    let value: unknown = raw;
    if (typeof raw === 'string') {
      try {
        value = JSON.parse(raw);
      } catch {
        throw new AppConfigError(`context '${key}' must be a JSON object, got '${raw}'`);
      }
    }
    if (
      typeof value !== 'object' ||
      value === null ||
      Array.isArray(value) ||
      !Object.values(value).every((v) => typeof v === 'string')
    ) {
      throw new AppConfigError(`context '${key}' must map names to strings, got ${JSON.stringify(value)}`);
    }
    return value as Record<string, string>;
  };

  const region = required('region');
  const account = str('account');
  const encryption = str('bucketEncryption');
  const encryptions: readonly string[] = Object.values(WalArchiveEncryption);
  if (encryption !== undefined && !encryptions.includes(encryption)) {
    throw new AppConfigError(
      `context 'bucketEncryption' must be one of ${encryptions.join(', ')}, got '${encryption}'`,
    );
  }
  const cloneFromScope = str('cloneFromScope');
  const cloneTargetTime = str('cloneTargetTime');
  if (cloneTargetTime !== undefined && cloneFromScope === undefined) {
    throw new AppConfigError(
      `context 'cloneTargetTime' needs 'cloneFromScope', got only '${cloneTargetTime}'`,
    );
  }
  const vpcId = str('vpcId');
  if (vpcId !== undefined && account === undefined) {
    throw new AppConfigError(`context 'vpcId' (${vpcId}) is looked up, which needs 'account' as well`);
  }
  const amiId = str('amiId');
  const instanceType = str('instanceType');
  const dataVolumeGiB = int('dataVolumeGiB');
  const objectLockDays = int('objectLockDays');
  const alertEmails = list('alertEmails');
  const notEmail = alertEmails?.find((email) => !/^[^\s@,]+@[^\s@,]+\.[^\s@,]+$/.test(email));
  if (notEmail !== undefined) {
    throw new AppConfigError(
      `context 'alertEmails' must be comma-separated e-mail addresses, got '${notEmail}'`,
    );
  }

  const segmentContentText = str('segmentContent');
  let segmentContent: ContentPolicy | undefined;
  try {
    segmentContent =
      segmentContentText === undefined
        ? undefined
        : parseContentPolicy(segmentContentText, "context 'segmentContent'");
  } catch (error) {
    throw new AppConfigError((error as Error).message);
  }

  const drillSchedule = str('restoreDrillSchedule');
  if (drillSchedule !== undefined && !/^(rate|cron)\(.+\)$/.test(drillSchedule)) {
    throw new AppConfigError(
      `context 'restoreDrillSchedule' must be an EventBridge schedule expression such as 'cron(0 3 * * ? *)' or 'rate(1 day)', got '${drillSchedule}'`,
    );
  }

  return {
    stackName: str('stackName') ?? 'Walwatch',
    stackProps: {
      env: { account, region },
      description: 'walwatch: WAL-G archive bucket, Spilo/Patroni cluster and the backup monitor',
      clusterScope: required('scope'),
      pgVersion: str('pgVersion'),
      spiloImage: str('spiloImage'),
      instanceCount: int('instanceCount'),
      instanceType: instanceType === undefined ? undefined : new InstanceType(instanceType),
      dataVolumeSize: dataVolumeGiB === undefined ? undefined : Size.gibibytes(dataVolumeGiB),
      machineImage: amiId === undefined ? undefined : MachineImage.genericLinux({ [region]: amiId }),
      etcdEndpoints: list('etcdEndpoints'),
      etcdOnNodes: bool('etcdOnNodes'),
      etcdTlsSecretName: required('etcdTlsSecretName'),
      vpcId,
      existingBucketName: str('existingBucketName'),
      existingBucketKeyArn: str('existingBucketKeyArn'),
      bucketEncryption: encryption as WalArchiveEncryption | undefined,
      objectLockRetention: objectLockDays === undefined ? undefined : Duration.days(objectLockDays),
      postgresClientCidrs: list('postgresClientCidrs'),
      cloneFrom:
        cloneFromScope === undefined
          ? undefined
          : { sourceScope: cloneFromScope, targetTime: cloneTargetTime },
      backupSchedule: str('backupSchedule'),
      backupsToRetain: int('backupsToRetain'),
      walHeartbeatMinutes: int('walHeartbeatMinutes'),
      walgSettings: stringMap('walgSettings'),
      alertEmails,
      segmentContent,
      dashboardSite: bool('dashboardSite'),
      restoreDrillSchedule: drillSchedule,
    },
  };
}
