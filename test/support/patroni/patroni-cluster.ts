import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HEARTBEAT_SQL } from '../../../infra/spilo/render-heartbeat.js';
import {
  type ArchiveLayout,
  listObjectKeys,
  locateArchivedWal,
  quoteShell,
  writeArchiveScripts,
} from '../postgres-archive.js';
import { type BaseBackupFacts, takeWalgBaseBackup } from '../postgres-backup.js';
import {
  ensurePostgresOsUser,
  isProcessRunning,
  type OsUser,
  POSTGRES_BIN,
  runCommand,
} from '../postgres-exec.js';
import {
  findFreePorts,
  GroupProcess,
  killGroupSync,
  killProcessSync,
  PollAbortedError,
  pollUntil,
  sleep,
} from './processes.js';

/** Where Debian's `patroni`, `patronictl` and `etcd-server` packages install their commands. */
export const PATRONI_COMMANDS = {
  patroni: '/usr/bin/patroni',
  patronictl: '/usr/bin/patronictl',
  etcd: '/usr/bin/etcd',
} as const;

/** The Debian packages of the test bed that are missing on this machine (empty when it can run). */
export function findMissingPatroniPackages(): string[] {
  const missing: string[] = [];
  if (!existsSync(PATRONI_COMMANDS.patroni) || !existsSync(PATRONI_COMMANDS.patronictl))
    missing.push('patroni');
  if (!existsSync(PATRONI_COMMANDS.etcd)) missing.push('etcd-server');
  if (!existsSync(`${POSTGRES_BIN}/initdb`)) missing.push('postgresql-15');
  return missing;
}

/** Options of {@link startPatroniCluster}. */
export interface PatroniClusterOptions {
  /** Patroni's `scope` (the cluster name). @default 'walwatch-ha' */
  readonly scope?: string;
  /** Key prefix of the archive inside the bucket folder. @default `spilo/<scope>/wal/15` */
  readonly archivePrefix?: string;
  /** `archive_timeout` in seconds (Spilo: 1800). @default 1 */
  readonly archiveTimeoutSeconds?: number;
  /** PostgreSQL nodes. @default 3 */
  readonly nodes?: number;
  /**
   * Everything the cluster started is killed this long after the start, whatever the tests do, so a hung
   * test cannot leave servers behind. @default 300_000
   */
  readonly timeBoundMs?: number;
}

/** What Patroni's REST API says about one member (`GET /cluster`). */
export interface PatroniMember {
  readonly name: string;
  readonly role: 'leader' | 'replica' | 'sync_standby' | 'standby_leader';
  readonly state: string;
  readonly timeline?: number;
  readonly lag?: number | string;
}

const WORKSPACE_PREFIX = 'walwatch-patroni-';
const OWNER_FILE = 'owner.pid';
const GROUPS_FILE = 'process-groups';
/**
 * Patroni's timing, shortened from Spilo's (ttl 30, loop_wait 10, retry_timeout 10) so that a failover takes
 * seconds; the same proportions (loop_wait + 2 × retry_timeout ≤ ttl).
 */
const DCS_NAMESPACE = '/walwatch/';
const DCS_TIMING = { ttl: 8, loop_wait: 1, retry_timeout: 3 } as const;
const SUPERUSER = { username: 'postgres', password: 'walwatch-super' } as const;
const REPLICATION = { username: 'standby', password: 'walwatch-standby' } as const;
const live = new Set<PatroniCluster>();
let exitHookInstalled = false;

/** One Patroni member: a Patroni daemon and the PostgreSQL 15 server it runs, on loopback TCP ports. */
export class PatroniNode {
  readonly dir: string;
  readonly dataDir: string;
  readonly socketDir: string;
  readonly configFile: string;
  readonly logFile: string;
  readonly daemon: GroupProcess;

  constructor(
    readonly name: string,
    readonly pgPort: number,
    readonly apiPort: number,
    private readonly workspace: Workspace,
  ) {
    this.dir = join(workspace.dir, name);
    this.dataDir = join(this.dir, 'data');
    this.socketDir = join(this.dir, 'socket');
    this.configFile = join(this.dir, 'patroni.yml');
    this.logFile = join(this.dir, 'patroni.log');
    this.daemon = new GroupProcess(name, [PATRONI_COMMANDS.patroni, this.configFile], {
      logFile: this.logFile,
      cwd: this.dir,
      asPostgresUser: true,
    });
  }

  /** The REST API's base URL. */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.apiPort}`;
  }

  /** Runs SQL through `psql -X -A -t` over TCP as the superuser; returns the trimmed output (`|` separates values). */
  async runSql(sql: string, timeoutMs = 30_000): Promise<string> {
    const result = await runCommand(
      `${POSTGRES_BIN}/psql`,
      [
        '-X',
        '-A',
        '-t',
        '-q',
        '-v',
        'ON_ERROR_STOP=1',
        '-d',
        `host=127.0.0.1 port=${this.pgPort} user=${SUPERUSER.username} dbname=postgres connect_timeout=3`,
      ],
      { input: sql, cwd: this.workspace.dir, timeoutMs },
    );
    return result.stdout.toString('utf8').trim();
  }

  /** Runs `pg_controldata` on the data directory and returns its fields by label. */
  async readControlData(): Promise<Readonly<Record<string, string>>> {
    const result = await runCommand(`${POSTGRES_BIN}/pg_controldata`, ['-D', this.dataDir], {
      asPostgresUser: true,
      cwd: this.workspace.dir,
    });
    const fields: Record<string, string> = {};
    for (const line of result.stdout.toString('utf8').split('\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) fields[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
    }
    return fields;
  }

  /** The pid of the running postmaster (from `postmaster.pid`), if any. */
  async readPostmasterPid(): Promise<number | undefined> {
    const text = await readFile(join(this.dataDir, 'postmaster.pid'), 'utf8').catch(() => '');
    const pid = Number(text.split('\n')[0]);
    return pid > 0 && isProcessRunning(pid) ? pid : undefined;
  }

  /** Starts (or restarts) the Patroni daemon; it starts PostgreSQL itself. */
  async start(): Promise<void> {
    await this.daemon.start();
    this.workspace.recordGroup(this.daemon.pid);
  }

  /**
   * Crashes the node as a power cut would: SIGKILL to Patroni and to the postmaster together (the
   * postmaster runs in its own session, Patroni detaches it), so neither shuts anything down cleanly.
   */
  async crash(): Promise<void> {
    const postmaster = await this.readPostmasterPid();
    const server = postmaster ? [postmaster, ...(await listChildPids(postmaster))] : [];
    for (const pid of server) killProcessSync(pid);
    await this.daemon.kill();
    await pollUntil(async () => (server.every((pid) => !isProcessRunning(pid)) ? true : undefined), {
      timeoutMs: 15_000,
      intervalMs: 100,
      describe: () => `${this.name}: PostgreSQL processes still running after SIGKILL`,
    });
  }

  /** Starts or ends an archive outage of this node alone (its `archive_command` fails meanwhile). */
  async setArchiveOutage(on: boolean): Promise<void> {
    const flag = join(this.dir, 'archive-outage');
    if (on) await writeFile(flag, 'archive_command fails on this node while this file exists\n');
    else await rm(flag, { force: true });
  }

  /**
   * Freezes (SIGSTOP) the WAL senders of this leader, so that what it writes from now on reaches no
   * replica: after a crash its WAL has diverged from the next leader's, as with asynchronous replication
   * under a network partition. {@link PatroniNode.crash} ends them with the rest.
   */
  async freezeWalSenders(): Promise<number> {
    const pids = (await this.runSql('SELECT pid FROM pg_stat_replication', 5_000))
      .split('\n')
      .filter(Boolean)
      .map(Number);
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    return pids.length;
  }

  /** Stops Patroni (which stops PostgreSQL), then kills whatever of the node is left. */
  async stop(): Promise<void> {
    await this.daemon.stop(15_000);
    const postmaster = await this.readPostmasterPid();
    if (postmaster) killProcessSync(postmaster);
  }

  /** What Patroni's REST API says about this node (`GET /patroni`), or `undefined` when it does not answer. */
  async readStatus(): Promise<Record<string, unknown> | undefined> {
    try {
      const response = await fetch(`${this.apiUrl}/patroni`, { signal: AbortSignal.timeout(2_000) });
      return (await response.json()) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }
}

interface Workspace {
  readonly dir: string;
  readonly osUser: OsUser;
  recordGroup(pgid: number | undefined): void;
}

/**
 * A throw-away Patroni HA cluster: one etcd member and three PostgreSQL 15 nodes, each run by Patroni as
 * Spilo configures it, all on loopback ports, archiving in WAL-G's layout into one bucket folder. Start it
 * with {@link startPatroniCluster}; {@link PatroniCluster.stop} stops everything and removes it.
 */
export class PatroniCluster {
  private readonly groups = new Set<number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    /** Patroni's `scope`. */
    readonly scope: string,
    /** The temp folder holding everything. */
    readonly dir: string,
    /** The archive every node's `archive_command` writes. */
    readonly archive: ArchiveLayout,
    readonly nodes: readonly PatroniNode[],
    readonly etcd: GroupProcess,
    readonly etcdUrl: string,
    private readonly osUser: OsUser,
    timeBoundMs: number,
  ) {
    this.timer = setTimeout(() => this.killAllSync(), timeBoundMs);
    this.timer.unref();
  }

  /** The folder standing in for the S3 bucket (`walwatch serve --dir`). */
  get bucketDir(): string {
    return join(this.dir, 'bucket');
  }

  /** WAL segment size of the cluster's PostgreSQL (`initdb --wal-segsize=1`). */
  get walSegmentSize(): number {
    return 1024 * 1024;
  }

  /** While this file exists every node's `archive_command` fails, as it does when the bucket is unreachable. */
  get outageFlagFile(): string {
    return join(this.dir, 'archive-outage');
  }

  /** Starts or ends an archive outage (see {@link PatroniCluster.outageFlagFile}). */
  async setArchiveOutage(on: boolean): Promise<void> {
    if (on) await writeFile(this.outageFlagFile, 'archive_command fails while this file exists\n');
    else await rm(this.outageFlagFile, { force: true });
  }

  /** The node named `name`. */
  node(name: string): PatroniNode {
    const found = this.nodes.find((node) => node.name === name);
    if (!found) throw new Error(`no node ${name}`);
    return found;
  }

  /** Patroni's view of the members (`GET /cluster` of the first node that answers). */
  async readMembers(): Promise<PatroniMember[]> {
    for (const node of this.nodes) {
      try {
        const response = await fetch(`${node.apiUrl}/cluster`, { signal: AbortSignal.timeout(2_000) });
        if (response.ok) return ((await response.json()) as { members: PatroniMember[] }).members;
      } catch {
        // Try the next node.
      }
    }
    return [];
  }

  /**
   * Waits until Patroni reports a running leader and `replicas` running replicas streaming from it, all on
   * the leader's timeline, and returns the leader node.
   */
  async waitForHealthy(options: { replicas?: number; timeoutMs?: number } = {}): Promise<PatroniNode> {
    const replicas = options.replicas ?? this.nodes.length - 1;
    let last: PatroniMember[] = [];
    const name = await pollUntil(
      async () => {
        if (this.nodes.every((node) => !node.daemon.isRunning))
          throw new PollAbortedError('no Patroni daemon is running');
        last = await this.readMembers();
        const leader = last.find((m) => m.role === 'leader' && m.state === 'running');
        if (!leader) return undefined;
        const following = last.filter(
          (m) =>
            m.role !== 'leader' &&
            (m.state === 'streaming' || m.state === 'running') &&
            m.timeline === leader.timeline,
        );
        if (following.length < replicas) return undefined;
        // Patroni 3.0 skips its pg_rewind check, and starts a diverged former leader as a replica that never
        // becomes consistent, while the new leader's member record in the DCS still says `replica` (it is
        // rewritten a loop after the promotion): healthy means the DCS says so too.
        if (!['master', 'primary'].includes((await this.readDcsMember(leader.name))?.role ?? ''))
          return undefined;
        // The leader must accept writes (Patroni reports "running" a moment before promotion completes).
        const node = this.node(leader.name);
        return (await node.runSql('SELECT pg_is_in_recovery()', 5_000)) === 'f' ? leader.name : undefined;
      },
      {
        timeoutMs: options.timeoutMs ?? 90_000,
        intervalMs: 250,
        describe: () => `cluster not healthy; members ${JSON.stringify(last)}${this.describeLaggards(last)}`,
      },
    );
    return this.node(name);
  }

  /**
   * The tails of the Patroni and PostgreSQL logs of every node that is not a running leader or a
   * streaming replica, so that a failed wait says why a node is stuck.
   */
  private describeLaggards(members: readonly PatroniMember[]): string {
    const healthy = (name: string) =>
      members.some((m) => m.name === name && (m.state === 'running' || m.state === 'streaming'));
    return this.nodes
      .filter((node) => !healthy(node.name))
      .map((node) => {
        const tail = (path: string) => {
          try {
            return readFileSync(path, 'utf8').slice(-3000);
          } catch {
            return '(no log)';
          }
        };
        return `\n--- ${node.name} patroni.log\n${tail(node.logFile)}\n--- ${node.name} postgresql.log\n${tail(join(node.dir, 'pg_log', 'postgresql.log'))}`;
      })
      .join('');
  }

  /** A member's record in the DCS (`<namespace>/<scope>/members/<name>` in etcd), as Patroni wrote it. */
  async readDcsMember(name: string): Promise<{ role?: string } | undefined> {
    const key = Buffer.from(`${DCS_NAMESPACE}${this.scope}/members/${name}`).toString('base64');
    const response = await fetch(`${this.etcdUrl}/v3/kv/range`, {
      method: 'POST',
      body: JSON.stringify({ key }),
      signal: AbortSignal.timeout(2_000),
    });
    const value = ((await response.json()) as { kvs?: { value: string }[] }).kvs?.[0]?.value;
    return value
      ? (JSON.parse(Buffer.from(value, 'base64').toString('utf8')) as { role?: string })
      : undefined;
  }

  /** The node Patroni reports as the running leader, or `undefined` during an election. */
  async findLeader(): Promise<PatroniNode | undefined> {
    const leader = (await this.readMembers()).find((m) => m.role === 'leader' && m.state === 'running');
    return leader ? this.node(leader.name) : undefined;
  }

  /** Runs `patronictl -c <first node's config> <args>` and returns its output. */
  async patronictl(args: readonly string[], timeoutMs = 90_000): Promise<string> {
    const first = this.nodes[0] as PatroniNode;
    const result = await runCommand(PATRONI_COMMANDS.patronictl, ['-c', first.configFile, ...args], {
      cwd: this.dir,
      timeoutMs,
    });
    return result.stdout.toString('utf8');
  }

  /** `patronictl switchover --leader <leader> --candidate <candidate> --force`; waits for the new leader. */
  async switchover(candidate: PatroniNode): Promise<PatroniNode> {
    const leader = await this.waitForHealthy();
    await this.patronictl([
      'switchover',
      '--leader',
      leader.name,
      '--candidate',
      candidate.name,
      '--force',
      this.scope,
    ]);
    await pollUntil(async () => ((await this.findLeader())?.name === candidate.name ? true : undefined), {
      timeoutMs: 60_000,
      describe: () => `${candidate.name} did not become the leader`,
    });
    return candidate;
  }

  /** `patronictl reinit <scope> <member> --force --wait`: the replica is rebuilt from a new base backup. */
  async reinit(replica: PatroniNode): Promise<void> {
    await this.patronictl(['reinit', this.scope, replica.name, '--force', '--wait'], 120_000);
  }

  /**
   * Takes a base backup on the leader the way `wal-g backup-push` does (sentinel last) and stores it in the
   * archive; see {@link takeWalgBaseBackup}.
   */
  async takeBaseBackup(leader: PatroniNode): Promise<BaseBackupFacts> {
    return takeWalgBaseBackup(
      {
        dataDir: leader.dataDir,
        osUser: this.osUser,
        scratchDir: join(this.dir, 'backups'),
        runSql: (sql) => leader.runSql(sql, 120_000),
        readControlData: () => leader.readControlData(),
      },
      this.archive,
    );
  }

  /**
   * Runs the Spilo WAL heartbeat ({@link HEARTBEAT_SQL}) on every node every `intervalMs`, as the systemd
   * timer does on each host: only the leader writes. Returns a function that stops it.
   */
  startHeartbeat(intervalMs: number): () => Promise<void> {
    let running = true;
    const loop = (async () => {
      while (running) {
        await Promise.all(this.nodes.map((node) => node.runSql(HEARTBEAT_SQL, 5_000).catch(() => '')));
        await sleep(intervalMs);
      }
    })();
    return async () => {
      running = false;
      await loop;
    };
  }

  /**
   * Writes on the current leader, a transaction of `rows` rows into `walwatch_load` every `pauseMs`,
   * following the leader through switchovers and failovers; failed transactions during an election are
   * retried on the next leader. Returns a function that stops the load and returns the number of committed
   * transactions.
   */
  startLoad(rows = 300, pauseMs = 50): () => Promise<number> {
    let running = true;
    let commits = 0;
    const loop = (async () => {
      let leader: PatroniNode | undefined;
      while (running) {
        leader ??= await this.findLeader();
        if (!leader) {
          await sleep(200);
          continue;
        }
        try {
          await leader.runSql(
            `CREATE TABLE IF NOT EXISTS walwatch_load (id bigserial PRIMARY KEY, payload text NOT NULL);
             INSERT INTO walwatch_load (payload)
               SELECT md5(g::text) || repeat('x', 100) FROM generate_series(1, ${rows}) g;`,
            10_000,
          );
          commits += 1;
          await sleep(pauseMs);
        } catch {
          leader = undefined;
          await sleep(200);
        }
      }
    })();
    return async () => {
      running = false;
      await loop;
      return commits;
    };
  }

  /** Lists every object key under the bucket folder, sorted. */
  async listObjectKeys(): Promise<string[]> {
    return listObjectKeys(this.bucketDir);
  }

  /** Returns the path of the object holding an archived WAL file. */
  locateArchivedWal(fileName: string): string {
    return locateArchivedWal(this.archive, fileName);
  }

  /** Stops every node and etcd (cleanly, forced after a grace period) and removes the temp folder. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    await Promise.all(this.nodes.map((node) => node.stop().catch(() => undefined)));
    await this.etcd.stop(5_000);
    this.killAllSync();
    live.delete(this);
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Remembers a process group to kill when the cluster stops (it is also written to the workspace). */
  recordGroup(pgid: number | undefined): void {
    if (!pgid) return;
    this.groups.add(pgid);
    void writeFile(join(this.dir, GROUPS_FILE), [...this.groups].join('\n')).catch(() => undefined);
  }

  /** SIGKILLs every process of the cluster, synchronously (exit hooks, the time bound). */
  killAllSync(): void {
    for (const pgid of this.groups) killGroupSync(pgid);
    killGroupSync(this.etcd.pid);
    killWorkspaceServersSync(this.dir);
  }
}

/**
 * Starts one etcd member and a three-node Patroni cluster in a fresh temp folder and waits until the first
 * node leads and the others stream from it. Every node is configured as Spilo configures it
 * (`configure_spilo.py`): `use_pg_rewind`, `use_slots`, `archive_mode on`, `archive_timeout`,
 * `wal_level replica`, `hot_standby`, `wal_log_hints`, data checksums, `restore_command` from the archive;
 * its `archive_command` behaves as `wal-g wal-push` (see the `wal-push` script). Patroni, etcd and
 * PostgreSQL run as the unprivileged PostgreSQL OS user when the tests run as root.
 *
 * @example
 * const ha = await startPatroniCluster({ scope: 'orders' });
 * const leader = await ha.waitForHealthy();
 * await ha.takeBaseBackup(leader);
 * await ha.stop();
 */
export async function startPatroniCluster(options: PatroniClusterOptions = {}): Promise<PatroniCluster> {
  const missing = findMissingPatroniPackages();
  if (missing.length > 0)
    throw new Error(`the Patroni test bed needs the Debian packages ${missing.join(', ')}`);
  await removeAbandonedWorkspaces();
  const osUser = await ensurePostgresOsUser();
  const scope = options.scope ?? 'walwatch-ha';
  const dir = await mkdtemp(join(tmpdir(), WORKSPACE_PREFIX));
  await chmod(dir, 0o755);
  await writeFile(join(dir, OWNER_FILE), String(process.pid));
  const archive: ArchiveLayout = {
    root: join(
      dir,
      'bucket',
      ...(options.archivePrefix ?? `spilo/${scope}/wal/15`).split('/').filter(Boolean),
    ),
    stagingDir: join(dir, 'staging'),
  };
  for (const [path, owned] of [
    [join(dir, 'bin'), false],
    [join(archive.root, 'wal_005'), true],
    [archive.stagingDir, true],
    [join(dir, 'etcd'), true],
  ] as const) {
    await mkdir(path, { recursive: true, mode: 0o755 });
    if (owned) await chown(path, osUser.uid, osUser.gid);
  }
  const { restoreCommand } = await writeArchiveScripts(archive, join(dir, 'bin'));
  const walPush = await writeWalPushScript(dir);

  const count = options.nodes ?? 3;
  const [etcdClient, etcdPeer, ...ports] = await findFreePorts(2 + 2 * count);
  const etcdUrl = `http://127.0.0.1:${etcdClient}`;
  const etcd = new GroupProcess(
    'etcd',
    [
      PATRONI_COMMANDS.etcd,
      '--name',
      'walwatch',
      '--data-dir',
      join(dir, 'etcd', 'data'),
      '--listen-client-urls',
      etcdUrl,
      '--advertise-client-urls',
      etcdUrl,
      '--listen-peer-urls',
      `http://127.0.0.1:${etcdPeer}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${etcdPeer}`,
      '--initial-cluster',
      `walwatch=http://127.0.0.1:${etcdPeer}`,
      '--initial-cluster-state',
      'new',
      '--log-level',
      'warn',
    ],
    { logFile: join(dir, 'etcd', 'etcd.log'), cwd: join(dir, 'etcd'), asPostgresUser: true },
  );
  const nodes: PatroniNode[] = [];
  let cluster: PatroniCluster | undefined;
  const workspace: Workspace = {
    dir,
    osUser,
    recordGroup: (pgid) => cluster?.recordGroup(pgid),
  };
  for (let i = 0; i < count; i++) {
    nodes.push(
      new PatroniNode(`node-${i + 1}`, ports[2 * i] as number, ports[2 * i + 1] as number, workspace),
    );
  }
  cluster = new PatroniCluster(
    scope,
    dir,
    archive,
    nodes,
    etcd,
    etcdUrl,
    osUser,
    options.timeBoundMs ?? 300_000,
  );
  live.add(cluster);
  installExitHook();
  try {
    await etcd.start();
    cluster.recordGroup(etcd.pid);
    await pollUntil(
      async () => {
        const response = await fetch(`${etcdUrl}/health`, { signal: AbortSignal.timeout(1_000) });
        return response.ok ? true : undefined;
      },
      { timeoutMs: 20_000, describe: () => `etcd did not start (see ${join(dir, 'etcd', 'etcd.log')})` },
    );
    for (const node of nodes) {
      await mkdir(node.socketDir, { recursive: true, mode: 0o700 });
      await chown(node.dir, osUser.uid, osUser.gid);
      await chown(node.socketDir, osUser.uid, osUser.gid);
      await writeFile(
        node.configFile,
        renderPatroniConfig({
          scope,
          node,
          etcdHost: `127.0.0.1:${etcdClient}`,
          archiveCommand: `${quoteShell(walPush)} "%p" "%f" ${quoteShell(join(node.dir, 'walg-status'))}`,
          restoreCommand,
          archiveTimeoutSeconds: options.archiveTimeoutSeconds ?? 1,
        }),
      );
      await mkdir(join(node.dir, 'walg-status'), { mode: 0o700 });
      await chown(join(node.dir, 'walg-status'), osUser.uid, osUser.gid);
    }
    // The first node bootstraps the cluster (initdb) alone, so it is the first leader; the others clone it.
    const [first, ...rest] = nodes as [PatroniNode, ...PatroniNode[]];
    await first.start();
    await cluster.waitForHealthy({ replicas: 0 });
    for (const node of rest) await node.start();
    await cluster.waitForHealthy();
  } catch (error) {
    const logs = await Promise.all(
      nodes.map(
        async (node) =>
          `--- ${node.name}\n${(await readFile(node.logFile, 'utf8').catch(() => '')).slice(-2500)}`,
      ),
    );
    await cluster.stop();
    throw new Error(`${(error as Error).message}\n${logs.join('\n')}`, { cause: error });
  }
  return cluster;
}

/** The Patroni configuration of one node, as JSON (a subset of YAML, which Patroni reads). */
function renderPatroniConfig(input: {
  scope: string;
  node: PatroniNode;
  etcdHost: string;
  archiveCommand: string;
  restoreCommand: string;
  archiveTimeoutSeconds: number;
}): string {
  const { node } = input;
  const config = {
    scope: input.scope,
    namespace: DCS_NAMESPACE,
    name: node.name,
    log: { level: 'INFO' },
    restapi: { listen: `127.0.0.1:${node.apiPort}`, connect_address: `127.0.0.1:${node.apiPort}` },
    etcd3: { hosts: [input.etcdHost] },
    bootstrap: {
      dcs: {
        ...DCS_TIMING,
        maximum_lag_on_failover: 33554432,
        postgresql: {
          use_pg_rewind: true,
          use_slots: true,
          // Spilo's bootstrap parameters (configure_spilo.py); archive_timeout shortened from 1800 s.
          parameters: {
            archive_mode: 'on',
            archive_timeout: `${input.archiveTimeoutSeconds}s`,
            wal_level: 'replica',
            wal_log_hints: 'on',
            max_wal_senders: 10,
            max_replication_slots: 10,
            hot_standby: 'on',
            max_connections: 30,
            wal_keep_size: '128MB',
          },
        },
      },
      initdb: [{ encoding: 'UTF8' }, { locale: 'C' }, 'data-checksums', { 'wal-segsize': '1' }],
    },
    postgresql: {
      listen: `127.0.0.1:${node.pgPort}`,
      connect_address: `127.0.0.1:${node.pgPort}`,
      data_dir: node.dataDir,
      bin_dir: POSTGRES_BIN,
      pgpass: join(node.dir, 'pgpass'),
      use_unix_socket: false,
      authentication: { superuser: SUPERUSER, replication: REPLICATION },
      parameters: {
        unix_socket_directories: node.socketDir,
        archive_command: input.archiveCommand,
        shared_buffers: '16MB',
        fsync: 'off',
        synchronous_commit: 'on',
        timezone: 'UTC',
        log_timezone: 'UTC',
        wal_retrieve_retry_interval: '500ms',
        logging_collector: 'on',
        log_directory: join(node.dir, 'pg_log'),
        log_filename: 'postgresql.log',
        log_file_mode: '0644',
      },
      recovery_conf: { restore_command: input.restoreCommand },
      pg_hba: [
        'local all all trust',
        'host all all 127.0.0.1/32 trust',
        'host replication all 127.0.0.1/32 trust',
      ],
      basebackup: [{ checkpoint: 'fast' }],
    },
    watchdog: { mode: 'off' },
    tags: { nofailover: false, noloadbalance: false, clonefrom: false },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/**
 * Writes the nodes' `archive_command`, `wal-push <%p> <%f> <status dir>`: `wal-g wal-push` as Spilo runs
 * it. It fails while the cluster's outage flag file or the node's own (`<node>/archive-outage`) exists. Like WAL-G's background uploader it also pushes other
 * segments already marked `.ready` (newest first, so a backlog lands out of order) and records them in its
 * own status folder, so PostgreSQL's later call for them is a no-op. The object itself is written by the
 * harness's `archive-wal` (WAL-G's layout and overwrite rules: segments are overwritten, a `.history` with
 * other content is refused).
 */
async function writeWalPushScript(dir: string): Promise<string> {
  const script = join(dir, 'bin', 'wal-push');
  const archiveWal = quoteShell(join(dir, 'bin', 'archive-wal'));
  await writeFile(
    script,
    `#!/bin/sh
set -eu
src=$1
name=$2
pushed=$3
if [ -e ${quoteShell(join(dir, 'archive-outage'))} ] || [ -e "$(dirname "$pushed")/archive-outage" ]; then
  echo "wal-push: the archive is unreachable (outage flag set)" >&2
  exit 1
fi
if [ -e "$pushed/$name" ]; then
  rm -f "$pushed/$name"
  exit 0
fi
# WAL-G pushes at most TOTAL_BG_UPLOADED_LIMIT (32) other ready segments per call.
for ready in $(ls -1r pg_wal/archive_status 2>/dev/null | grep -E '^[0-9A-F]{24}\\.ready$' | head -n 31); do
  other=\${ready%.ready}
  [ "$other" = "$name" ] && continue
  [ -e "$pushed/$other" ] && continue
  ${archiveWal} "pg_wal/$other" "$other" && : > "$pushed/$other"
done
exec ${archiveWal} "$src" "$name"
`,
    { mode: 0o755 },
  );
  return script;
}

/** Kills the postmasters whose data directories are in a workspace, from their `postmaster.pid`. */
function killWorkspaceServersSync(dir: string): void {
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = readPidSync(join(dir, name, 'data', 'postmaster.pid'));
    if (pid) killProcessSync(pid);
  }
}

/** The pids of the direct children of process `parent` (from `/proc/<pid>/stat`). */
async function listChildPids(parent: number): Promise<number[]> {
  const children: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // "pid (comm) state ppid …"; comm may contain spaces and parentheses.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === parent) children.push(Number(entry));
  }
  return children;
}

function readPidSync(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').split('\n')[0]);
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const cluster of live) cluster.killAllSync();
  });
}

/**
 * Removes workspaces of test processes that died without stopping their clusters (their `owner.pid`
 * names a process that is gone): their process groups and postmasters are killed first.
 */
async function removeAbandonedWorkspaces(): Promise<void> {
  const names = await readdir(tmpdir()).catch(() => [] as string[]);
  for (const name of names.filter((entry) => entry.startsWith(WORKSPACE_PREFIX))) {
    const dir = join(tmpdir(), name);
    const owner = Number(await readFile(join(dir, OWNER_FILE), 'utf8').catch(() => '0'));
    if (!(owner > 0) || isProcessRunning(owner)) continue;
    const groups = (await readFile(join(dir, GROUPS_FILE), 'utf8').catch(() => '')).split('\n');
    for (const pgid of groups) killGroupSync(Number(pgid));
    killWorkspaceServersSync(dir);
    await sleep(200);
    await rm(dir, { recursive: true, force: true });
  }
}
