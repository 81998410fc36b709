import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Peer, Vpc } from 'aws-cdk-lib/aws-ec2';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import { SpiloCluster, type SpiloClusterProps } from '../../infra/constructs/spilo-cluster.js';
import { WalArchiveBucket } from '../../infra/constructs/wal-archive-bucket.js';
import { SYNTH_TIMEOUT_MS, testApp } from './support.js';

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

function build(overrides: Partial<SpiloClusterProps> = {}): {
  stack: Stack;
  template: Template;
  cluster: SpiloCluster;
} {
  const stack = new Stack(testApp(), 'Test', { env: { account: '111111111111', region: 'eu-central-1' } });
  const vpc = new Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const archive = new WalArchiveBucket(stack, 'Archive');
  const cluster = new SpiloCluster(stack, 'Cluster', {
    vpc,
    clusterScope: 'demo',
    archiveBucket: archive.bucket,
    etcdEndpoints: ['etcd-1.internal:2379', 'etcd-2.internal:2379', 'etcd-3.internal:2379'],
    etcdTlsSecret: Secret.fromSecretNameV2(stack, 'EtcdTls', 'walwatch/etcd-tls'),
    ...overrides,
  });
  return { stack, template: Template.fromStack(stack), cluster };
}

function roleStatements(template: Template, stack: Stack, cluster: SpiloCluster): Statement[] {
  const roleRef = stack.resolve((cluster.role as unknown as { roleName: string }).roleName);
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as {
    Properties: { Roles: unknown[]; PolicyDocument: { Statement: Statement[] } };
  }[];
  return policies
    .filter((p) => p.Properties.Roles.some((r) => JSON.stringify(r) === JSON.stringify(roleRef)))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

function actionsOf(statement: Statement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

function resourcesOf(statement: Statement): string[] {
  const list = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
  return list.map((r) => JSON.stringify(r));
}

describe('SpiloCluster', { timeout: SYNTH_TIMEOUT_MS }, () => {
  it('confines the Spilo role to its own prefix: list with a prefix condition, get, put, abort multipart', () => {
    const { stack, template, cluster } = build();
    const statements = roleStatements(template, stack, cluster);
    const s3 = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')));
    const list = s3.find((s) => actionsOf(s).includes('s3:ListBucket'));
    expect(list?.Condition).toEqual({ StringLike: { 's3:prefix': ['spilo/demo/*'] } });
    const objectActions = s3.flatMap((s) =>
      actionsOf(s).filter(
        (a) => !['s3:ListBucket', 's3:GetBucketLocation', 's3:GetBucketVersioning'].includes(a),
      ),
    );
    expect(objectActions.sort()).toEqual(
      ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:PutObject'].sort(),
    );
    for (const statement of s3) {
      const isObjectStatement = actionsOf(statement).some((a) => objectActions.includes(a));
      for (const resource of resourcesOf(statement)) {
        if (isObjectStatement) {
          expect(resource).toMatch(/\/spilo\/demo\/\*"\]\]\}$/);
        } else {
          expect(resource).not.toContain('*');
        }
      }
    }
  });

  it('grants delete only when retention runs on the nodes, and never DeleteObjectVersion', () => {
    for (const retentionOnNodes of [true, false]) {
      const { stack, template, cluster } = build({ retentionOnNodes });
      const actions = roleStatements(template, stack, cluster).flatMap(actionsOf);
      expect(actions.includes('s3:DeleteObject')).toBe(retentionOnNodes);
      expect(actions).not.toContain('s3:DeleteObjectVersion');
    }
  });

  it('uses the archive key only through S3 and reads only its own secrets', () => {
    const { stack, template, cluster } = build();
    const statements = roleStatements(template, stack, cluster);
    const kms = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('kms:')));
    expect(kms).toHaveLength(1);
    expect(actionsOf(kms[0] as Statement).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    expect(kms[0]?.Condition).toEqual({
      StringEquals: { 'kms:ViaService': 's3.eu-central-1.amazonaws.com' },
    });
    const secretResources = statements
      .filter((s) => actionsOf(s).includes('secretsmanager:GetSecretValue'))
      .flatMap(resourcesOf);
    expect(secretResources).toHaveLength(4);
    expect(secretResources.some((r) => r.includes('secret:walwatch/etcd-tls-??????'))).toBe(true);
  });

  it('has no s3:* and no data action on Resource * anywhere in the stack', () => {
    const { template } = build({ cloneFrom: { sourceScope: 'old' } });
    const statements = (
      Object.values(template.findResources('AWS::IAM::Policy')) as {
        Properties: { PolicyDocument: { Statement: Statement[] } };
      }[]
    ).flatMap((p) => p.Properties.PolicyDocument.Statement);
    for (const statement of statements) {
      expect(actionsOf(statement)).not.toContain('s3:*');
      expect(actionsOf(statement)).not.toContain('*');
      if (resourcesOf(statement).includes('"*"')) {
        expect(actionsOf(statement).filter((a) => /^(s3|kms|secretsmanager):/.test(a))).toEqual([]);
      }
    }
  });

  it('lets a clone read its source prefix only, and renders CLONE_* into the unit', () => {
    const { stack, template, cluster } = build({
      cloneFrom: { sourceScope: 'old', targetTime: '2026-11-24T12:00:00+01:00' },
    });
    const statements = roleStatements(template, stack, cluster);
    const cloneList = statements.find(
      (s) => actionsOf(s).includes('s3:ListBucket') && JSON.stringify(s.Condition).includes('spilo/old/*'),
    );
    expect(cloneList).toBeDefined();
    const cloneRead = statements.filter((s) => resourcesOf(s).some((r) => r.includes('/spilo/old/*')));
    expect(cloneRead.flatMap(actionsOf)).toEqual(['s3:GetObject']);
    const userData = JSON.stringify(stack.resolve(cluster.instances[0]?.userData.render()));
    expect(userData).toContain('CLONE_SCOPE=old');
    expect(userData).toContain('CLONE_TARGET_TIME=2026-11-24T12:00:00+01:00');
  });

  it('requires IMDSv2, encrypts every volume, offers no SSH key and keeps nodes private', () => {
    const { template } = build();
    template.resourceCountIs('AWS::EC2::Instance', 3);
    template.hasResourceProperties('AWS::IAM::InstanceProfile', {
      Roles: [Match.objectLike({ Ref: Match.stringLikeRegexp('ClusterRole') })],
    });
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: { MetadataOptions: { HttpTokens: 'required' } },
    });
    const instances = Object.values(template.findResources('AWS::EC2::Instance')) as {
      Properties: Record<string, unknown> & { BlockDeviceMappings: { Ebs: { Encrypted: boolean } }[] };
    }[];
    for (const instance of instances) {
      expect(instance.Properties.KeyName).toBeUndefined();
      expect(instance.Properties.DisableApiTermination).toBe(true);
      expect(instance.Properties.BlockDeviceMappings).toHaveLength(2);
      for (const mapping of instance.Properties.BlockDeviceMappings) {
        expect(mapping.Ebs.Encrypted).toBe(true);
      }
      expect(JSON.stringify(instance.Properties.NetworkInterfaces)).toMatch(
        /"AssociatePublicIpAddress":false.*PrivateSubnet/,
      );
    }
  });

  it('names its launch templates per stack, so a second cluster (or a clone) can deploy beside it', () => {
    const { template } = build();
    const names = Object.values(template.findResources('AWS::EC2::LaunchTemplate')).map(
      (t) => (t as { Properties: { LaunchTemplateName: string } }).Properties.LaunchTemplateName,
    );
    expect(names).toHaveLength(3);
    for (const name of names) {
      expect(name).toMatch(/^TestClusterNode\dLaunchTemplate/);
    }
  });

  it('opens only PostgreSQL and the Patroni API, between the nodes and from named sources', () => {
    const { template } = build({ postgresClients: [Peer.ipv4('10.20.0.0/16')] });
    const ingress = (
      Object.values(template.findResources('AWS::EC2::SecurityGroupIngress')) as {
        Properties: { FromPort: number; ToPort: number };
      }[]
    ).map((r) => r.Properties.FromPort);
    expect(ingress.sort()).toEqual([5432, 8008]);
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupIngress: [Match.objectLike({ CidrIp: '10.20.0.0/16', FromPort: 5432, ToPort: 5432 })],
    });
    const groups = JSON.stringify(template.findResources('AWS::EC2::SecurityGroup'));
    expect(groups).not.toMatch(/"CidrIp":"0\.0\.0\.0\/0","Description":"[^"]*","FromPort":(5432|8008)/);
  });

  it('runs etcd on the nodes with member DNS names when asked to', () => {
    const { stack, template, cluster } = build({ etcdEndpoints: undefined, etcdOnNodes: true });
    expect(cluster.etcdEndpoints).toEqual([
      'node-0.etcd.demo.walwatch.internal:2379',
      'node-1.etcd.demo.walwatch.internal:2379',
      'node-2.etcd.demo.walwatch.internal:2379',
    ]);
    template.hasResourceProperties('AWS::Route53::HostedZone', { Name: 'etcd.demo.walwatch.internal.' });
    template.resourceCountIs('AWS::Route53::RecordSet', 3);
    const ports = (
      Object.values(template.findResources('AWS::EC2::SecurityGroupIngress')) as {
        Properties: { FromPort: number };
      }[]
    ).map((r) => r.Properties.FromPort);
    expect(ports.sort()).toEqual([2379, 2380, 5432, 8008]);
    const userData = JSON.stringify(stack.resolve(cluster.instances[1]?.userData.render()));
    expect(userData).toContain('--name node-1');
  });

  it.each<[string, Partial<SpiloClusterProps>, RegExp]>([
    ['a bad scope', { clusterScope: 'Demo_1' }, /got 'Demo_1'/],
    ['a PostgreSQL newer than the image', { pgVersion: '18' }, /pgVersion '18' is newer/],
    ['no etcd at all', { etcdEndpoints: [] }, /etcdEndpoints must name the existing etcd cluster/],
    ['both etcd modes', { etcdOnNodes: true }, /not both/],
    ['an even etcd quorum', { etcdEndpoints: undefined, etcdOnNodes: true, instanceCount: 4 }, /got 4/],
    ['an endpoint without port', { etcdEndpoints: ['etcd-1'] }, /got 'etcd-1'/],
    ['a malformed schedule', { backupSchedule: 'daily' }, /got 'daily'/],
    ['too few backups', { backupsToRetain: 1 }, /got 1/],
    ['a heartbeat slower than archive_timeout', { walHeartbeatInterval: Duration.minutes(45) }, /got 45 min/],
    ['a heartbeat of part minutes', { walHeartbeatInterval: Duration.seconds(90) }, /got 1\.5 min/],
    ['the internet as a client', { postgresClients: [Peer.anyIpv4()] }, /0\.0\.0\.0\/0/],
    ['a clone of itself', { cloneFrom: { sourceScope: 'demo' } }, /got 'demo'/],
    [
      'a target time without zone',
      { cloneFrom: { sourceScope: 'old', targetTime: '2026-11-24 12:00' } },
      /got '2026-11-24 12:00'/,
    ],
  ])('rejects %s, showing the value', (_, overrides, message) => {
    expect(() => build(overrides)).toThrow(message);
  });
});

describe('SpiloCluster user data', { timeout: SYNTH_TIMEOUT_MS }, () => {
  it('fetches an etcd secret known by name by its name, and generated passwords by ARN', () => {
    const { stack, cluster } = build();
    const userData = JSON.stringify(stack.resolve(cluster.instances[0]?.userData.render()));
    expect(userData).toContain("fetch 'walwatch/etcd-tls' >");
    expect(userData).toMatch(
      /PGPASSWORD_SUPERUSER=%s\\\\n' \\"\$\(fetch '",\{"Ref":"ClusterSuperuserPassword/,
    );
  });

  it('writes and enables the WAL heartbeat timer on every node, every 10 minutes by default', () => {
    const { stack, cluster } = build();
    for (const instance of cluster.instances) {
      const userData = JSON.stringify(stack.resolve(instance.userData.render()));
      expect(userData).toContain('/etc/systemd/system/walwatch-heartbeat.service');
      expect(userData).toContain('OnUnitActiveSec=10min');
      expect(userData).toContain('spilo.service walwatch-heartbeat.timer');
    }
  });

  it('beats at the interval given, and not at all when turned off', () => {
    const every = build({ walHeartbeatInterval: Duration.minutes(5) });
    expect(JSON.stringify(every.stack.resolve(every.cluster.instances[0]?.userData.render()))).toContain(
      'OnUnitActiveSec=5min',
    );
    const off = build({ walHeartbeat: false });
    const userData = JSON.stringify(off.stack.resolve(off.cluster.instances[0]?.userData.render()));
    expect(userData).not.toContain('walwatch-heartbeat');
  });
});
