import { HOST_LAYOUT } from './host-layout.js';
import { joinCommandLines, quoteSystemdValue } from './systemd.js';

/** Input of {@link renderSpiloUnit}. */
export interface SpiloUnitInput {
  /** Container image, e.g. `ghcr.io/zalando/spilo-17:4.0-p3`. */
  readonly image: string;
  /** Non-secret container environment (see `buildSpiloEnvironment`). */
  readonly environment: Readonly<Record<string, string>>;
  /** Patroni scope, used in the unit's description. */
  readonly scope: string;
  /** Whether etcd runs on this node: Spilo then starts after the local etcd unit. */
  readonly etcdOnNode: boolean;
}

/** Name of the podman container the Spilo unit runs. */
export const SPILO_CONTAINER_NAME = 'spilo';

/**
 * Renders the systemd unit that runs Spilo with podman, as the seed setup does: host networking,
 * the data volume at `/home/postgres/pgdata`, and the environment.
 *
 * The non-secret environment is set with `Environment=` lines and handed to the container by name
 * (`--env NAME`), so nothing needs shell quoting; the passwords come from an env file on tmpfs that
 * the `ExecStartPre` script writes from Secrets Manager, together with the etcd TLS material.
 *
 * @example
 * ```ts
 * const unit = renderSpiloUnit({ image: 'ghcr.io/zalando/spilo-17:4.0-p3', scope: 'demo',
 *   environment: { SCOPE: 'demo' }, etcdOnNode: false });
 * ```
 */
export function renderSpiloUnit(input: SpiloUnitInput): string {
  const names = Object.keys(input.environment).sort();
  const environmentLines = names.map(
    (name) => `Environment=${quoteSystemdValue(`${name}=${input.environment[name] ?? ''}`)}`,
  );
  const after = input.etcdOnNode ? 'network-online.target etcd.service' : 'network-online.target';
  const run = joinCommandLines([
    `/usr/bin/podman run --name ${SPILO_CONTAINER_NAME} --rm --network host --pull missing`,
    `--volume ${HOST_LAYOUT.pgdataOnHost}:${HOST_LAYOUT.pgdataInContainer}:Z`,
    `--volume ${HOST_LAYOUT.etcdTlsOnHost}:${HOST_LAYOUT.etcdTlsInContainer}:ro,Z`,
    `--env-file ${HOST_LAYOUT.secretsEnvFile}`,
    ...names.map((name) => `--env ${name}`),
    input.image,
  ]);
  return [
    '[Unit]',
    `Description=Spilo (Patroni, PostgreSQL, WAL-G) for scope ${input.scope}`,
    'Wants=network-online.target',
    `After=${after}`,
    `RequiresMountsFor=${HOST_LAYOUT.dataMount}`,
    '',
    '[Service]',
    'Type=simple',
    ...environmentLines,
    `ExecStartPre=${HOST_LAYOUT.fetchSecretsScript} ${input.image}`,
    `ExecStartPre=-/usr/bin/podman rm --force --ignore ${SPILO_CONTAINER_NAME}`,
    `ExecStart=${run}`,
    `ExecStop=/usr/bin/podman stop --time 120 ${SPILO_CONTAINER_NAME}`,
    'Restart=always',
    'RestartSec=10',
    // The first start pulls a ~1 GB image and may restore a base backup before Patroni is up.
    'TimeoutStartSec=1800',
    'TimeoutStopSec=180',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/**
 * Reads a rendered unit back into its `Environment=` assignments and the names passed with
 * `--env`. Used by tests and by anyone checking a node's unit against the expected environment.
 */
export function parseUnitEnvironment(unit: string): { assigned: Record<string, string>; passed: string[] } {
  const assigned: Record<string, string> = {};
  for (const match of unit.matchAll(/^Environment="(.*)"$/gm)) {
    const raw = (match[1] ?? '').replace(/%%/g, '%').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    const eq = raw.indexOf('=');
    assigned[raw.slice(0, eq)] = raw.slice(eq + 1);
  }
  const passed = [...unit.matchAll(/--env ([A-Z0-9_]+)\b/g)].map((m) => m[1] ?? '');
  return { assigned, passed };
}
