import { describe, expect, it } from 'vitest';
import { parseUnitEnvironment, renderSpiloUnit } from '../../infra/spilo/render-unit.js';
import {
  buildSpiloEnvironment,
  SECRET_ENVIRONMENT_NAMES,
  SEED_ENVIRONMENT_NAMES,
} from '../../infra/spilo/spilo-environment.js';

const image = 'ghcr.io/zalando/spilo-17:4.0-p3';
const environment = buildSpiloEnvironment({
  scope: 'demo',
  pgVersion: '17',
  region: 'eu-central-1',
  bucketName: 'wal-bucket',
  etcdHosts: ['etcd-1.internal:2379'],
  backupSchedule: '0 1 * * *',
  backupsToRetain: 5,
  kmsKeyArn: 'arn:aws:kms:eu-central-1:111111111111:key/abc',
});

describe('renderSpiloUnit', () => {
  const unit = renderSpiloUnit({ image, environment, scope: 'demo', etcdOnNode: false });

  it('contains exactly the seed environment plus ours, assigned and handed to the container', () => {
    const { assigned, passed } = parseUnitEnvironment(unit);
    const ours = ['SPILO_PROVIDER', 'WALG_S3_SSE', 'WALG_S3_SSE_KMS_ID'];
    expect(Object.keys(assigned).sort()).toEqual([...SEED_ENVIRONMENT_NAMES, ...ours].sort());
    expect(passed.sort()).toEqual(Object.keys(assigned).sort());
    expect(assigned).toEqual(environment);
  });

  it('takes the passwords from the tmpfs env file, never from the unit', () => {
    expect(unit).toContain('--env-file /run/walwatch-spilo/secrets.env');
    for (const name of SECRET_ENVIRONMENT_NAMES) {
      expect(unit).not.toContain(name);
    }
  });

  it('runs the image with podman on the host network with the data volume, as the seed does', () => {
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/podman run --name spilo --rm --network host/m);
    expect(unit).toContain('--volume /var/lib/spilo/pgdata:/home/postgres/pgdata:Z');
    expect(unit).toContain('--volume /run/walwatch-spilo/etcd:/etc/spilo/etcd:ro,Z');
    expect(unit.trimEnd().split('\n')).toContain(`  ${image}`);
    expect(unit).toContain(`ExecStartPre=/usr/local/sbin/walwatch-fetch-secrets ${image}`);
    expect(unit).toContain('Restart=always');
    expect(unit).toContain('WantedBy=multi-user.target');
  });

  it('escapes % and quotes so systemd passes values through literally', () => {
    const odd = renderSpiloUnit({
      image,
      environment: { WALG_SENTINEL_USER_DATA: '{"k":"50%"}' },
      scope: 'demo',
      etcdOnNode: false,
    });
    expect(odd).toContain('Environment="WALG_SENTINEL_USER_DATA={\\"k\\":\\"50%%\\"}"');
    expect(parseUnitEnvironment(odd).assigned.WALG_SENTINEL_USER_DATA).toBe('{"k":"50%"}');
  });

  it('starts after the local etcd member when etcd runs on the node', () => {
    const withEtcd = renderSpiloUnit({ image, environment, scope: 'demo', etcdOnNode: true });
    expect(withEtcd).toContain('After=network-online.target etcd.service');
    expect(unit).not.toContain('etcd.service');
  });
});
