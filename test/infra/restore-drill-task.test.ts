import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Schedule } from 'aws-cdk-lib/aws-events';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { RestoreDrillTaskError } from '../../infra/constructs/restore-drill-task.js';
import { WalArchiveBucket, WalArchiveEncryption } from '../../infra/constructs/wal-archive-bucket.js';
import { WalBackupMonitor, type WalBackupMonitorProps } from '../../infra/constructs/wal-backup-monitor.js';
import { ENV } from '../../shared/config/env.js';
import { SYNTH_TIMEOUT_MS, testApp } from './support.js';

const ROOTS = ['spilo/demo/wal/17/', 'spilo/orders/wal/17/'];
const NIGHTLY = Schedule.cron({ hour: '3', minute: '0' });

function build(
  restoreDrill: WalBackupMonitorProps['restoreDrill'] | null = { schedule: NIGHTLY },
  roots = ROOTS,
) {
  const app = testApp();
  const stack = new Stack(app, 'Test', { env: { account: '111111111111', region: 'eu-central-1' } });
  const archive = new WalArchiveBucket(stack, 'Archive', {
    archiveRoots: roots,
    encryption: WalArchiveEncryption.KMS,
  });
  const monitor = new WalBackupMonitor(stack, 'Monitor', {
    archiveBucket: archive.bucket,
    archiveRoots: archive.archiveRoots,
    ...(restoreDrill ? { restoreDrill } : {}),
  });
  archive.notifyQueue(monitor.ingestQueue);
  return { app, stack, monitor, template: Template.fromStack(stack) };
}

interface Statement {
  readonly Sid?: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
}

const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** The statements of the policies attached to the drill task's role. */
function taskRoleStatements(built: ReturnType<typeof build>): Statement[] {
  const drill = built.monitor.restoreDrill;
  if (!drill) throw new Error('no drill task');
  const roleId = built.stack.getLogicalId(drill.taskDefinition.taskRole.node.defaultChild as never);
  return Object.values(built.template.findResources('AWS::IAM::Policy'))
    .filter((policy) =>
      list((policy as { Properties: { Roles: unknown[] } }).Properties.Roles).some(
        (role) => JSON.stringify(role) === JSON.stringify({ Ref: roleId }),
      ),
    )
    .flatMap(
      (policy) =>
        (policy as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
          .Statement,
    );
}

describe('WalBackupMonitor restoreDrill', { timeout: SYNTH_TIMEOUT_MS }, () => {
  const built = build();

  it('grants the drill task read-only access to the archive roots and nothing else in S3', () => {
    const statements = taskRoleStatements(built);
    const s3 = statements.filter((s) => list(s.Action).some((a) => a.startsWith('s3:')));
    expect(s3.flatMap((s) => list(s.Action)).sort()).toEqual(['s3:GetObject', 's3:ListBucket']);
    const read = JSON.stringify(s3.find((s) => s.Sid === 'ReadArchiveRoots')?.Resource);
    for (const root of ROOTS) expect(read).toContain(`/${root}*`);
    expect(s3.find((s) => s.Sid === 'ListArchiveRoots')?.Condition).toEqual({
      StringLike: { 's3:prefix': ROOTS.map((root) => `${root}*`) },
    });
    const kms = statements.find((s) => s.Sid === 'DecryptArchiveThroughS3');
    expect(kms?.Action).toBe('kms:Decrypt');
    expect(kms?.Condition?.StringEquals?.['kms:ViaService']).toBeDefined();
  });

  it('lets the drill task write and trim drill items, and only mark fleet rows', () => {
    const statements = taskRoleStatements(built);
    const mark = statements.find((s) => s.Sid === 'MarkFleetRows');
    expect(list(mark?.Action)).toEqual(['dynamodb:UpdateItem']);
    expect(mark?.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['f#*'] } });
    const dynamo = statements.filter(
      (s) => s.Sid !== 'MarkFleetRows' && list(s.Action).some((a) => a.startsWith('dynamodb:')),
    );
    expect(dynamo.flatMap((s) => list(s.Action)).sort()).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
    ]);
    for (const statement of dynamo)
      expect(statement.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['d#*'] } });
  });

  it('runs the task in private subnets of the cluster, without a public IP, on the schedule', () => {
    const rules = built.template.findResources('AWS::Events::Rule', {
      Properties: { ScheduleExpression: 'cron(0 3 * * ? *)' },
    });
    interface EcsTarget {
      readonly EcsParameters: {
        readonly LaunchType: string;
        readonly NetworkConfiguration: {
          readonly AwsVpcConfiguration: { readonly AssignPublicIp: string; readonly Subnets: unknown };
        };
      };
    }
    const [rule] = Object.values(rules) as Array<{ Properties: { Targets: EcsTarget[] } }>;
    const target = rule?.Properties.Targets[0];
    const network = target?.EcsParameters.NetworkConfiguration.AwsVpcConfiguration;
    expect(target?.EcsParameters.LaunchType).toBe('FARGATE');
    expect(network?.AssignPublicIp).toBe('DISABLED');
    const subnets = JSON.stringify(network?.Subnets);
    const vpc = built.monitor.restoreDrill?.vpc;
    expect(vpc?.publicSubnets).toEqual([]);
    for (const subnet of vpc?.isolatedSubnets ?? [])
      expect(subnets).toContain(built.stack.getLogicalId(subnet.node.defaultChild as never));
  });

  it('creates a VPC with no NAT gateway or internet gateway, reaching AWS through endpoints', () => {
    built.template.resourceCountIs('AWS::EC2::NatGateway', 0);
    built.template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    const endpoints = Object.values(built.template.findResources('AWS::EC2::VPCEndpoint')).map((e) =>
      JSON.stringify((e as { Properties: { ServiceName: unknown } }).Properties.ServiceName),
    );
    for (const service of ['.s3', '.dynamodb', 'ecr.api', 'ecr.dkr', '.logs'])
      expect(
        endpoints.some((name) => name.includes(service)),
        service,
      ).toBe(true);
    built.template.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'ALL' });
  });

  it('opens no inbound port and only HTTPS out', () => {
    const group = built.monitor.restoreDrill?.securityGroup;
    const id = built.stack.getLogicalId(group?.node.defaultChild as never);
    const resource = built.template.findResources('AWS::EC2::SecurityGroup')[id] as {
      Properties: { SecurityGroupIngress?: unknown[]; SecurityGroupEgress: Array<Record<string, unknown>> };
    };
    expect(resource.Properties.SecurityGroupIngress ?? []).toEqual([]);
    expect(resource.Properties.SecurityGroupEgress).toEqual([
      expect.objectContaining({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443 }),
    ]);
  });

  it('runs an ARM64 Fargate task with the image built from the repository Dockerfile for the clusters’ major version', () => {
    built.template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      RequiresCompatibilities: ['FARGATE'],
      RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
      EphemeralStorage: { SizeInGiB: 50 },
      ContainerDefinitions: [
        Match.objectLike({
          Environment: Match.arrayWith([
            { Name: ENV.drillTargets, Value: 'spilo/demo/wal/17,spilo/orders/wal/17' },
            { Name: ENV.drillTarget, Value: 'latest' },
          ]),
          LogConfiguration: Match.objectLike({ LogDriver: 'awslogs' }),
        }),
      ],
    });
    const assembly = built.app.synth();
    const manifest = JSON.parse(readFileSync(join(assembly.directory, 'Test.assets.json'), 'utf8')) as {
      dockerImages: Record<string, { source: Record<string, unknown> }>;
    };
    const [image] = Object.values(manifest.dockerImages);
    expect(image?.source).toMatchObject({
      dockerFile: 'infra/drill-image/Dockerfile',
      dockerBuildArgs: { PG_MAJOR: '17' },
      platform: 'linux/arm64',
    });
  });

  it('tells the sweeper and the API which clusters expect drills and when they are stale', () => {
    for (const fn of [built.monitor.functions.sweeper, built.monitor.functions.api]) {
      const id = built.stack.getLogicalId(fn.function.node.defaultChild as never);
      const env = (
        built.template.findResources('AWS::Lambda::Function')[id] as {
          Properties: { Environment: { Variables: Record<string, string> } };
        }
      ).Properties.Environment.Variables;
      expect(env[ENV.drillClusters]).toBe('off; on=spilo/demo/wal/17,spilo/orders/wal/17');
      expect(env[ENV.drillStaleAfter]).toBe('259200s');
    }
  });

  it('adds nothing for drills without restoreDrill', () => {
    const plain = build(null);
    plain.template.resourceCountIs('AWS::ECS::TaskDefinition', 0);
    plain.template.resourceCountIs('AWS::EC2::VPC', 0);
  });

  it('synthesizes its own VPC variant under cdk-nag with no unacknowledged finding', () => {
    const nagged = build({ schedule: Schedule.rate(Duration.days(1)), staleAfter: Duration.hours(50) });
    Validations.of(nagged.app).addPlugins(
      new AwsSolutionsChecks(nagged.app),
      new ServerlessChecks(nagged.app),
    );
    expect(() => nagged.app.synth()).not.toThrow();
  });

  it.each<[WalBackupMonitorProps['restoreDrill'], string[], RegExp]>([
    [
      { schedule: NIGHTLY },
      ['spilo/a/wal/16/', 'spilo/b/wal/17/'],
      /postgresMajor must be .* got \[16, 17\]/,
    ],
    [{ schedule: NIGHTLY, clusters: ['spilo/elsewhere/wal/17'] }, ROOTS, /got 'spilo\/elsewhere\/wal\/17'/],
    [{ schedule: NIGHTLY, ephemeralStorageGiB: 500 }, ROOTS, /from 21 to 200, got 500/],
    [{ schedule: NIGHTLY, staleAfter: Duration.minutes(5) }, ROOTS, /at least 1 hour, got 5 minutes/],
  ])('refuses restoreDrill %j', (drill, roots, message) => {
    expect(() => build(drill, roots)).toThrow(RestoreDrillTaskError);
    expect(() => build(drill, roots)).toThrow(message);
  });
});
