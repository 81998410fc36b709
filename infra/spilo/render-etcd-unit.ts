import { ETCD_TLS_FILES, HOST_LAYOUT } from './host-layout.js';
import { joinCommandLines } from './systemd.js';

/** Input of {@link renderEtcdUnit}. */
export interface EtcdUnitInput {
  /** etcd container image, e.g. `quay.io/coreos/etcd:v3.5.21`. */
  readonly image: string;
  /** This node's member name, e.g. `node-0`. */
  readonly memberName: string;
  /** DNS names of all members, in member order; `memberName` is `node-<index>` of this list. */
  readonly memberHostNames: readonly string[];
  /** Names the members by index: `node-0`, `node-1`, … */
  readonly memberNames: readonly string[];
  /** Token that keeps this cluster from joining a different one (the Patroni scope). */
  readonly clusterToken: string;
  /** The Spilo image: the fetch script reads the `postgres` uid from it to own the TLS files. */
  readonly spiloImage: string;
}

/** Port etcd serves clients on. */
export const ETCD_CLIENT_PORT = 2379;
/** Port etcd members talk to each other on. */
export const ETCD_PEER_PORT = 2380;

/**
 * Renders the systemd unit that runs an etcd member with podman, for clusters that keep etcd on
 * their own nodes. Peers and clients both use mutual TLS with the same material Spilo uses, so the
 * certificate must carry every member's DNS name (or a wildcard for the private zone).
 */
export function renderEtcdUnit(input: EtcdUnitInput): string {
  const index = input.memberNames.indexOf(input.memberName);
  const self = input.memberHostNames[index];
  if (index < 0 || self === undefined || input.memberNames.length !== input.memberHostNames.length) {
    throw new Error(
      `memberName '${input.memberName}' must be one of [${input.memberNames.join(', ')}] with one host name each`,
    );
  }
  const tls = HOST_LAYOUT.etcdTlsInContainer;
  const initialCluster = input.memberNames
    .map((name, i) => `${name}=https://${input.memberHostNames[i]}:${ETCD_PEER_PORT}`)
    .join(',');
  const run = joinCommandLines([
    '/usr/bin/podman run --name etcd --rm --network host --pull missing',
    `--volume ${HOST_LAYOUT.etcdDataOnHost}:/var/lib/etcd:Z`,
    `--volume ${HOST_LAYOUT.etcdTlsOnHost}:${tls}:ro,Z`,
    input.image,
    '/usr/local/bin/etcd',
    `--name ${input.memberName}`,
    '--data-dir /var/lib/etcd',
    `--listen-client-urls https://0.0.0.0:${ETCD_CLIENT_PORT}`,
    `--advertise-client-urls https://${self}:${ETCD_CLIENT_PORT}`,
    `--listen-peer-urls https://0.0.0.0:${ETCD_PEER_PORT}`,
    `--initial-advertise-peer-urls https://${self}:${ETCD_PEER_PORT}`,
    `--initial-cluster ${initialCluster}`,
    '--initial-cluster-state new',
    `--initial-cluster-token ${input.clusterToken}`,
    '--client-cert-auth --peer-client-cert-auth',
    `--trusted-ca-file ${tls}/${ETCD_TLS_FILES.ca}`,
    `--cert-file ${tls}/${ETCD_TLS_FILES.cert}`,
    `--key-file ${tls}/${ETCD_TLS_FILES.key}`,
    `--peer-trusted-ca-file ${tls}/${ETCD_TLS_FILES.ca}`,
    `--peer-cert-file ${tls}/${ETCD_TLS_FILES.cert}`,
    `--peer-key-file ${tls}/${ETCD_TLS_FILES.key}`,
  ]);
  return [
    '[Unit]',
    `Description=etcd member ${input.memberName} for scope ${input.clusterToken}`,
    'Wants=network-online.target',
    'After=network-online.target',
    `RequiresMountsFor=${HOST_LAYOUT.dataMount}`,
    '',
    '[Service]',
    'Type=simple',
    `ExecStartPre=${HOST_LAYOUT.fetchSecretsScript} ${input.spiloImage}`,
    'ExecStartPre=-/usr/bin/podman rm --force --ignore etcd',
    `ExecStart=${run}`,
    'ExecStop=/usr/bin/podman stop --time 30 etcd',
    // Members start before their peers' DNS records exist; keep retrying until the quorum forms.
    'Restart=always',
    'RestartSec=5',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}
