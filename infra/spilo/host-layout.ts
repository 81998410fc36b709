/**
 * Where things live on a Spilo node, on the host and inside the container. One place, so the user
 * data, the systemd units and the secret-fetching script agree.
 */
export const HOST_LAYOUT = {
  /** Mount point of the dedicated EBS data volume on the host. */
  dataMount: '/var/lib/spilo',
  /** Host directory bind-mounted as the container's PostgreSQL home data directory. */
  pgdataOnHost: '/var/lib/spilo/pgdata',
  /** The data directory inside the Spilo image (`PGHOME/pgdata`, Spilo's default). */
  pgdataInContainer: '/home/postgres/pgdata',
  /** Host directory for etcd's own data when etcd runs on the nodes. */
  etcdDataOnHost: '/var/lib/spilo/etcd',
  /** tmpfs directory (never on disk) holding secrets fetched at each service start. */
  runtimeSecretsDir: '/run/walwatch-spilo',
  /** Env file with the PostgreSQL passwords, written by the fetch script, read by podman. */
  secretsEnvFile: '/run/walwatch-spilo/secrets.env',
  /** Host directory with the etcd TLS material (CA, client certificate, key). */
  etcdTlsOnHost: '/run/walwatch-spilo/etcd',
  /** Where the etcd TLS directory is mounted inside the containers. */
  etcdTlsInContainer: '/etc/spilo/etcd',
  /** Script that fetches secrets from Secrets Manager before each start of the Spilo unit. */
  fetchSecretsScript: '/usr/local/sbin/walwatch-fetch-secrets',
  /** systemd unit running Spilo. */
  spiloUnitFile: '/etc/systemd/system/spilo.service',
  /** systemd unit running etcd, only when etcd runs on the nodes. */
  etcdUnitFile: '/etc/systemd/system/etcd.service',
  /** systemd oneshot unit writing one WAL heartbeat on the leader, and the timer starting it. */
  heartbeatServiceFile: '/etc/systemd/system/walwatch-heartbeat.service',
  heartbeatTimerFile: '/etc/systemd/system/walwatch-heartbeat.timer',
} as const;

/** File names of the etcd TLS material inside {@link HOST_LAYOUT.etcdTlsOnHost}. */
export const ETCD_TLS_FILES = {
  ca: 'ca.crt',
  cert: 'client.crt',
  key: 'client.key',
} as const;
