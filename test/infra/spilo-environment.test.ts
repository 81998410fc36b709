import { describe, expect, it } from 'vitest';
import {
  buildSpiloEnvironment,
  SECRET_ENVIRONMENT_NAMES,
  SEED_ENVIRONMENT_NAMES,
  type SpiloEnvironmentInput,
} from '../../infra/spilo/spilo-environment.js';

const base: SpiloEnvironmentInput = {
  scope: 'demo',
  pgVersion: '17',
  region: 'eu-central-1',
  bucketName: 'wal-bucket',
  etcdHosts: ['etcd-1.internal:2379', 'etcd-2.internal:2379'],
  backupSchedule: '0 1 * * *',
  backupsToRetain: 5,
};

describe('buildSpiloEnvironment', () => {
  it('sets exactly the seed variables plus SPILO_PROVIDER when nothing optional is given', () => {
    const env = buildSpiloEnvironment(base);
    expect(Object.keys(env).sort()).toEqual([...SEED_ENVIRONMENT_NAMES, 'SPILO_PROVIDER'].sort());
  });

  it('renders the seed values: etcd over https with TLS files, WAL-G for backup and restore', () => {
    const env = buildSpiloEnvironment(base);
    expect(env).toMatchObject({
      SCOPE: 'demo',
      PGVERSION: '17',
      ETCD3_HOSTS: '"etcd-1.internal:2379","etcd-2.internal:2379"',
      ETCD3_PROTOCOL: 'https',
      ETCD3_CACERT: '/etc/spilo/etcd/ca.crt',
      ETCD3_CERT: '/etc/spilo/etcd/client.crt',
      ETCD3_KEY: '/etc/spilo/etcd/client.key',
      AWS_REGION: 'eu-central-1',
      WAL_S3_BUCKET: 'wal-bucket',
      USE_WALG_BACKUP: 'true',
      USE_WALG_RESTORE: 'true',
      BACKUP_SCHEDULE: '0 1 * * *',
      BACKUP_NUM_TO_RETAIN: '5',
      SPILO_PROVIDER: 'local',
    });
  });

  it('never carries a password', () => {
    const env = buildSpiloEnvironment(base);
    for (const name of SECRET_ENVIRONMENT_NAMES) {
      expect(env).not.toHaveProperty(name);
    }
  });

  it('asks WAL-G for SSE-KMS with the bucket key when one is given', () => {
    const env = buildSpiloEnvironment({
      ...base,
      kmsKeyArn: 'arn:aws:kms:eu-central-1:111111111111:key/abc',
    });
    expect(env.WALG_S3_SSE).toBe('aws:kms');
    expect(env.WALG_S3_SSE_KMS_ID).toBe('arn:aws:kms:eu-central-1:111111111111:key/abc');
  });

  it('passes WALG_* settings through', () => {
    const env = buildSpiloEnvironment({ ...base, walgSettings: { WALG_COMPRESSION_METHOD: 'zstd' } });
    expect(env.WALG_COMPRESSION_METHOD).toBe('zstd');
  });

  it.each([
    ['AWS_SECRET_ACCESS_KEY', /must match/],
    ['walg_lower', /must match/],
    ['WALG_S3_PREFIX', /walwatch derives it/],
    ['WALG_S3_SSE', /walwatch derives it/],
  ])('rejects the passthrough name %s', (name, message) => {
    expect(() => buildSpiloEnvironment({ ...base, walgSettings: { [name]: 'x' } })).toThrow(message);
  });

  it('renders CLONE_* for a clone, with the target time, and leaves CLONE_PGVERSION unset', () => {
    const env = buildSpiloEnvironment({
      ...base,
      cloneFrom: {
        sourceScope: 'old',
        sourceBucketName: 'wal-bucket',
        targetTime: '2026-11-24T12:00:00+01:00',
      },
    });
    expect(env).toMatchObject({
      CLONE_METHOD: 'CLONE_WITH_WALE',
      CLONE_SCOPE: 'old',
      CLONE_WAL_S3_BUCKET: 'wal-bucket',
      CLONE_AWS_REGION: 'eu-central-1',
      CLONE_USE_WALG_RESTORE: 'true',
      CLONE_TARGET_TIME: '2026-11-24T12:00:00+01:00',
    });
    expect(env).not.toHaveProperty('CLONE_PGVERSION');
  });

  it('rejects an empty etcd endpoint list', () => {
    expect(() => buildSpiloEnvironment({ ...base, etcdHosts: [] })).toThrow(/got \[\]/);
  });

  it('rejects values with line breaks, showing the value', () => {
    expect(() => buildSpiloEnvironment({ ...base, backupSchedule: '0 1 * * *\nEVIL=1' })).toThrow(/EVIL=1/);
  });
});
