import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderEtcdUnit } from '../../infra/spilo/render-etcd-unit.js';
import { quoteShell, renderFetchSecretsScript } from '../../infra/spilo/render-fetch-secrets.js';
import { HEARTBEAT_SQL, renderHeartbeatUnits } from '../../infra/spilo/render-heartbeat.js';
import { renderUserData } from '../../infra/spilo/render-user-data.js';

const secrets = {
  region: 'eu-central-1',
  etcdTlsSecretArn: 'arn:aws:secretsmanager:eu-central-1:111111111111:secret:etcd-tls-AbCdEf',
  superuserPasswordSecretArn: 'arn:aws:secretsmanager:eu-central-1:111111111111:secret:su-AbCdEf',
  replicationPasswordSecretArn: 'arn:aws:secretsmanager:eu-central-1:111111111111:secret:repl-AbCdEf',
  adminPasswordSecretArn: 'arn:aws:secretsmanager:eu-central-1:111111111111:secret:admin-AbCdEf',
};

describe('renderFetchSecretsScript', () => {
  const script = renderFetchSecretsScript(secrets);

  it('reads every secret by ARN from Secrets Manager', () => {
    for (const arn of Object.values(secrets).slice(1)) {
      expect(script).toContain(`fetch '${arn}'`);
    }
    expect(script).toContain('secretsmanager get-secret-value');
  });

  it.skipIf(spawnSync('python3', ['--version']).status !== 0)(
    'splits the etcd TLS secret into the three PEM files, and refuses one without a key',
    () => {
      const program = /<<'PYTHON'\n([\s\S]*?)\nPYTHON\n/.exec(script)?.[1] ?? '';
      const dir = mkdtempSync(join(tmpdir(), 'walwatch-tls-'));
      try {
        writeFileSync(join(dir, 'tls.json'), JSON.stringify({ ca: 'CA', cert: 'CERT', key: 'KEY' }));
        execFileSync('python3', ['-', join(dir, 'tls.json'), dir], { input: program });
        expect(['ca.crt', 'client.crt', 'client.key'].map((f) => readFileSync(join(dir, f), 'utf8'))).toEqual(
          ['CA', 'CERT', 'KEY'],
        );
        writeFileSync(join(dir, 'tls.json'), JSON.stringify({ ca: 'CA', cert: 'CERT' }));
        const missing = spawnSync('python3', ['-', join(dir, 'tls.json'), dir], { input: program });
        expect(missing.status).not.toBe(0);
        expect(String(missing.stderr)).toContain('no "key" entry');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('writes secrets only to tmpfs, owner-only', () => {
    expect(script).toContain('umask 077');
    expect(script).toContain('install -m 0600 "$tmp/secrets.env" /run/walwatch-spilo/secrets.env');
    expect(script).not.toMatch(/\/var\/lib\/spilo\/[^.\s]*secret/);
  });
});

describe('quoteShell', () => {
  it.each([
    ['plain', "'plain'"],
    ["it's", "'it'\\''s'"],
  ])('quotes %s', (value, quoted) => {
    expect(quoteShell(value)).toBe(quoted);
  });
});

describe('renderUserData', () => {
  const fetchSecretsScript = renderFetchSecretsScript(secrets);
  const spiloUnit = '[Unit]\nDescription=spilo\n';

  it('installs podman, mounts the data volume and enables the Spilo unit', () => {
    const userData = renderUserData({ dataDevice: '/dev/sdf', fetchSecretsScript, spiloUnit });
    expect(userData.startsWith('#!/bin/bash\nset -euo pipefail\n')).toBe(true);
    expect(userData).toContain('dnf install -y podman python3');
    expect(userData).toContain('dev=/dev/sdf');
    expect(userData).toContain('blkid "$dev" >/dev/null || mkfs.xfs "$dev"');
    expect(userData).toContain(
      `cat > /etc/systemd/system/spilo.service <<'WALWATCH_END_OF_FILE'\n${spiloUnit}`,
    );
    expect(userData).toContain('chmod 0700 /usr/local/sbin/walwatch-fetch-secrets');
    expect(userData).toContain('systemctl enable --now --no-block spilo.service');
    expect(userData).not.toContain('etcd.service');
  });

  it('is valid bash, and so is the fetch script it writes', () => {
    const etcdUnit = '[Unit]\nDescription=etcd\n';
    for (const script of [
      renderUserData({ dataDevice: '/dev/sdf', fetchSecretsScript, spiloUnit, etcdUnit }),
      fetchSecretsScript,
    ]) {
      expect(() =>
        execFileSync('bash', ['-n'], { input: script, stdio: ['pipe', 'pipe', 'pipe'] }),
      ).not.toThrow();
    }
  });

  it('holds no password, only secret ARNs', () => {
    const userData = renderUserData({ dataDevice: '/dev/sdf', fetchSecretsScript, spiloUnit });
    expect(userData).not.toMatch(/PGPASSWORD_[A-Z]+=[^%]/);
    expect(userData).not.toContain('BEGIN ');
  });

  it('adds the etcd unit when etcd runs on the node', () => {
    const userData = renderUserData({
      dataDevice: '/dev/sdf',
      fetchSecretsScript,
      spiloUnit,
      etcdUnit: 'E\n',
    });
    expect(userData).toContain("cat > /etc/systemd/system/etcd.service <<'WALWATCH_END_OF_FILE'\nE\n");
    expect(userData).toContain('systemctl enable --now --no-block etcd.service spilo.service');
  });

  it('writes the WAL heartbeat units and enables the timer after Spilo', () => {
    const heartbeat = renderHeartbeatUnits({ intervalMinutes: 7 });
    const userData = renderUserData({ dataDevice: '/dev/sdf', fetchSecretsScript, spiloUnit, heartbeat });
    expect(userData).toContain(
      `cat > /etc/systemd/system/walwatch-heartbeat.service <<'WALWATCH_END_OF_FILE'\n${heartbeat.service}`,
    );
    expect(userData).toContain(
      `cat > /etc/systemd/system/walwatch-heartbeat.timer <<'WALWATCH_END_OF_FILE'\n${heartbeat.timer}`,
    );
    expect(userData).toContain('systemctl enable --now --no-block spilo.service walwatch-heartbeat.timer');
    expect(() => execFileSync('bash', ['-n'], { input: userData, stdio: 'pipe' })).not.toThrow();
  });

  it('rejects a file that contains the heredoc marker line', () => {
    expect(() =>
      renderUserData({ dataDevice: '/dev/sdf', fetchSecretsScript, spiloUnit: 'x\nWALWATCH_END_OF_FILE\n' }),
    ).toThrow(/spilo.service contains the heredoc marker/);
  });
});

describe('renderEtcdUnit', () => {
  const input = {
    image: 'quay.io/coreos/etcd:v3.5.21',
    memberNames: ['node-0', 'node-1', 'node-2'],
    memberHostNames: ['node-0.z', 'node-1.z', 'node-2.z'],
    clusterToken: 'demo',
    spiloImage: 'ghcr.io/zalando/spilo-17:4.0-p3',
  };

  it('announces this member and lists all members over TLS', () => {
    const unit = renderEtcdUnit({ ...input, memberName: 'node-1' });
    expect(unit).toContain('--advertise-client-urls https://node-1.z:2379');
    expect(unit).toContain(
      '--initial-cluster node-0=https://node-0.z:2380,node-1=https://node-1.z:2380,node-2=https://node-2.z:2380',
    );
    expect(unit).toContain('--client-cert-auth --peer-client-cert-auth');
  });

  it('rejects a member name that is not in the list', () => {
    expect(() => renderEtcdUnit({ ...input, memberName: 'node-7' })).toThrow(/'node-7'/);
  });
});

describe('renderHeartbeatUnits', () => {
  const { service, timer } = renderHeartbeatUnits({ intervalMinutes: 10 });

  it('runs the heartbeat statement with psql in the Spilo container as postgres, once per start', () => {
    expect(service).toContain('Type=oneshot');
    expect(service).toContain('Requisite=spilo.service');
    const exec = /^ExecStart=(.*)$/m.exec(service)?.[1] ?? '';
    expect(exec.startsWith('/usr/bin/podman exec --user postgres spilo psql -d postgres')).toBe(true);
    expect(exec).toContain('-v ON_ERROR_STOP=1');
    // systemd reads the double-quoted argument as one word; the statement holds no quote or specifier.
    expect(exec.endsWith(`-c "${HEARTBEAT_SQL}"`)).toBe(true);
    expect(HEARTBEAT_SQL).not.toMatch(/["%\\$]/);
  });

  it('starts the service every interval, from a few minutes after boot', () => {
    expect(timer).toContain('OnBootSec=5min');
    expect(timer).toContain('OnUnitActiveSec=10min');
    expect(timer).toContain('Unit=walwatch-heartbeat.service');
    expect(timer).toContain('WantedBy=timers.target');
  });
});
