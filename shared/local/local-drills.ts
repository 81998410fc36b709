/**
 * Restore drills in the local monitor: finds PostgreSQL binaries, decides the policy in effect (the one
 * given, or `24h` for every cluster when binaries are found and `off` when none are), and runs the schedule
 * with the drill engine against the watched folder or bucket, holding each restore against the monitor's
 * own stored report of the cluster.
 */

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { MonitorData } from '../api/monitor-data.js';
import { loadClusterReport } from '../api/reports.js';
import { type ClusterSetting, settingFor } from '../config/cluster-setting.js';
import {
  DEFAULT_DRILL_EVERY_MS,
  DRILLS_OFF,
  type DrillPolicy,
  drillsConfigured,
  formatDrillPolicy,
} from '../config/drill-policy.js';
import type { Thresholds } from '../core/config.js';
import type { DrillRecord } from '../core/drill.js';
import type { DrillExpectation } from '../core/drill-status.js';
import type { ClusterReport } from '../core/report.js';
import type { SegmentSizeSetting } from '../core/segment-size.js';
import { type DrillArchive, type RunDrillOptions, runDrill } from '../drill/run-drill.js';
import { isSampleCluster } from '../sample/sample-archive.js';
import { startDrillScheduler } from './drill-scheduler.js';
import {
  describePostgresBinaries,
  findPostgresBinaries,
  type PostgresBinaries,
} from './postgres-binaries.js';

/** Drill settings of the local monitor. */
export interface LocalDrillOptions {
  /** Period per cluster; @default `24h` when PostgreSQL binaries are found, else `off` */
  readonly every?: DrillPolicy;
  /** Look for the server binaries in this folder only. @default the usual install folders and `PATH` */
  readonly pgBin?: string;
  /** The OS user PostgreSQL runs as when the monitor runs as root. @default the engine's (`postgres`) */
  readonly pgUser?: string;
  /** `drill-stale` after this long without a verified drill. @default three periods, at least 1 h */
  readonly staleAfterMs?: number;
  /** The drill engine. @default `runDrill` of `shared/drill/run-drill.ts` */
  readonly runDrill?: (options: RunDrillOptions) => Promise<DrillRecord>;
  /** How often to look for due drills. @default 60 s */
  readonly checkEveryMs?: number;
  /** Server binaries to use instead of looking for them (tests). */
  readonly binaries?: PostgresBinaries;
}

/** The drills of a running local monitor. */
export interface LocalDrills {
  /** The policy in effect. */
  readonly policy: DrillPolicy;
  /** One line for the start-up message: the policy in effect and why. */
  readonly summary: string;
  readonly expectation: (clusterId: string) => DrillExpectation | undefined;
  runDue(): Promise<DrillRecord[]>;
  stop(): Promise<void>;
}

/** What the drills need from the monitor. */
export interface LocalDrillContext {
  readonly data: MonitorData;
  readonly archive: DrillArchive;
  readonly dataDir: string;
  readonly segmentSizes: ClusterSetting<SegmentSizeSetting>;
  readonly thresholds?: Partial<Thresholds>;
  readonly log: (line: string) => void;
}

/**
 * Sets up the schedule (or none) and describes it. Without `options` there are no drills and no binaries
 * are looked for (the monitor as a library, tests); `walwatch serve` always passes them.
 */
export async function startLocalDrills(
  context: LocalDrillContext,
  options: LocalDrillOptions | undefined,
): Promise<LocalDrills> {
  if (options === undefined) return noDrills(DRILLS_OFF, 'Restore drills: off.');
  const binaries = options.binaries ?? (await findPostgresBinaries(options.pgBin));
  const found = describePostgresBinaries(binaries);
  if (binaries.size === 0) {
    const asked = options.every && drillsConfigured(options.every);
    const where = options.pgBin ? ` in ${options.pgBin}` : '';
    return noDrills(
      DRILLS_OFF,
      asked
        ? `Restore drills: off: no PostgreSQL server binaries found${where}, although --drill-every asks for ${formatDrillPolicy(options.every as DrillPolicy)}; install postgresql-<major> or pass --pg-bin.`
        : `Restore drills: off (no PostgreSQL server binaries found${where}; install postgresql-<major> or pass --pg-bin, then --drill-every 24h).`,
    );
  }
  const policy = options.every ?? { default: DEFAULT_DRILL_EVERY_MS, clusters: [] };
  if (!drillsConfigured(policy))
    return noDrills(policy, `Restore drills: off (--drill-every); PostgreSQL binaries found: ${found}.`);
  const engine = options.runDrill ?? runDrill;
  const reportOf = async (clusterId: string): Promise<ClusterReport | undefined> =>
    loadClusterReport(context.data, clusterId, Date.now(), context.thresholds);
  const scheduler = startDrillScheduler({
    data: context.data,
    policy,
    now: Date.now,
    log: context.log,
    ...(options.checkEveryMs ? { checkEveryMs: options.checkEveryMs } : {}),
    staleAfterMs: (_clusterId, every) => options.staleAfterMs ?? Math.max(3 * every, 3_600_000),
    cannotDrill: async (clusterId) => {
      const report = await reportOf(clusterId);
      if (!report) return 'the cluster is not in the store';
      if (isSampleCluster(report))
        return 'a `walwatch sample` cluster: its backups hold no data directory to restore';
      const major = majorOf(report);
      if (major === undefined) return 'its PostgreSQL major version is unknown (no backup sentinel names it)';
      if (!binaries.has(major)) return `no PostgreSQL ${major} server binaries found (found: ${found})`;
      return null;
    },
    runDrill: async (clusterId) => {
      const report = await reportOf(clusterId);
      const major = report ? majorOf(report) : undefined;
      const pgBin = major === undefined ? undefined : binaries.get(major);
      const scratchParent = join(context.dataDir, 'drills');
      await mkdir(scratchParent, { recursive: true });
      return engine({
        archive: context.archive,
        cluster: clusterId,
        target: 'latest',
        segmentSize: settingFor(context.segmentSizes, clusterId),
        scratchParent,
        ...(pgBin ? { pgBin } : {}),
        ...(options.pgUser ? { pgUser: options.pgUser } : {}),
        ...(report ? { prediction: report } : {}),
        now: Date.now,
      });
    },
  });
  return {
    policy,
    summary: `Restore drills: ${formatDrillPolicy(policy)} (--drill-every), one at a time; PostgreSQL binaries found: ${found}.`,
    expectation: scheduler.expectation,
    runDue: scheduler.runDue,
    stop: scheduler.stop,
  };
}

function noDrills(policy: DrillPolicy, summary: string): LocalDrills {
  return {
    policy,
    summary,
    expectation: () => undefined,
    runDue: async () => [],
    stop: async () => undefined,
  };
}

/** The cluster's PostgreSQL major version: from its Spilo id, else from its newest backup's sentinel. */
export function majorOf(report: ClusterReport): number | undefined {
  const fromId = Number(report.pgMajor);
  if (report.pgMajor !== null && Number.isInteger(fromId) && fromId >= 10) return fromId;
  const version = [...report.backups].reverse().find((backup) => backup.pgVersion !== null)?.pgVersion;
  // PG_VERSION_NUM: 150004 is 15.4.
  return version == null ? undefined : Math.floor(version / 10_000);
}
