/**
 * The local monitor's restore drill schedule. Every check (once a minute) it walks the stored clusters in
 * id order and runs the drills that are due: a cluster is due when its policy is a period and its newest
 * stored drill started at least that long ago (or it has none). Drills run one at a time and never
 * overlap, however long one takes; the schedule follows the stored start times, so a restart neither
 * repeats a drill nor forgets one.
 *
 * A drill that throws (it could not start: no binaries, an unreadable archive) is stored as `failed` with
 * the error as its reason, so it alerts and waits a whole period like any other drill.
 */
import type { MonitorData } from '../api/monitor-data.js';
import { settingFor } from '../config/cluster-setting.js';
import type { DrillPolicy } from '../config/drill-policy.js';
import type { DrillRecord } from '../core/drill.js';
import type { DrillExpectation } from '../core/drill-status.js';
import { unrunnableDrill } from '../drill/drill-task.js';

/** What the schedule needs from its host. */
export interface DrillSchedulerOptions {
  readonly data: Pick<MonitorData, 'listClusterIds' | 'listDrills' | 'putDrill'>;
  /** The period (or `off`) of each cluster. */
  readonly policy: DrillPolicy;
  /** Runs one drill of a cluster and returns its record. */
  readonly runDrill: (clusterId: string) => Promise<DrillRecord>;
  /**
   * Why a cluster cannot be drilled on this machine (e.g. no binaries of its major version), or `null`
   * when it can. Such clusters are skipped, with one log line, and have no `drill-stale` problem.
   * @default every cluster can
   */
  readonly cannotDrill?: (clusterId: string) => Promise<string | null>;
  /** `drill-stale` threshold of a cluster. */
  readonly staleAfterMs: (clusterId: string, everyMs: number) => number;
  readonly now: () => number;
  readonly log: (line: string) => void;
  /** How often to look for due drills. @default 60 s */
  readonly checkEveryMs?: number;
}

/** A running schedule. */
export interface DrillScheduler {
  /** Runs the drills due now, after any run in progress; resolves with the records stored. */
  runDue(): Promise<DrillRecord[]>;
  /** Whether drills are expected for a cluster, for the reports' `drill-stale`. */
  expectation(clusterId: string): DrillExpectation | undefined;
  /** Stops checking and waits for the drill in progress. */
  stop(): Promise<void>;
}

/** Starts the schedule; the first check runs right away. */
export function startDrillScheduler(options: DrillSchedulerOptions): DrillScheduler {
  const startedAt = options.now();
  const blocked = new Map<string, string>();
  let chain: Promise<DrillRecord[]> = Promise.resolve([]);
  let stopped = false;
  let pending = 0;
  let current: string | null = null;

  const check = async (): Promise<DrillRecord[]> => {
    const stored: DrillRecord[] = [];
    for (const clusterId of await options.data.listClusterIds()) {
      if (stopped) break;
      const every = settingFor(options.policy, clusterId);
      if (every === 'off') continue;
      const why = (await options.cannotDrill?.(clusterId)) ?? null;
      if (why !== null) {
        if (blocked.get(clusterId) !== why)
          options.log(`walwatch: no restore drills for ${clusterId}: ${why}`);
        blocked.set(clusterId, why);
        continue;
      }
      blocked.delete(clusterId);
      const [last] = await options.data.listDrills(clusterId, 1);
      const now = options.now();
      if (last && now - Date.parse(last.startedAt) < every) continue;
      options.log(`walwatch: restore drill of ${clusterId} starting`);
      current = clusterId;
      const record = await options
        .runDrill(clusterId)
        .catch((error: unknown) => unrunnableDrill(clusterId, 'latest', now, options.now(), error))
        .finally(() => {
          current = null;
        });
      await options.data.putDrill(record);
      options.log(
        `walwatch: restore drill of ${clusterId}: ${record.verdict}${record.reason ? ` (${record.reason})` : ''}`,
      );
      stored.push(record);
    }
    return stored;
  };

  const runDue = (): Promise<DrillRecord[]> => {
    pending += 1;
    const next = chain.then(check, check).finally(() => {
      pending -= 1;
    });
    chain = next.catch((error: unknown) => {
      options.log(`walwatch: restore drill schedule: ${(error as Error).message}`);
      return [];
    });
    return next;
  };

  // A timer tick while a check runs (a drill may take hours) is dropped, not queued.
  const tick = (): void => {
    if (pending === 0) void runDue().catch(() => undefined);
  };
  const timer = setInterval(tick, options.checkEveryMs ?? 60_000);
  tick();

  return {
    runDue,
    expectation: (clusterId) => {
      const every = settingFor(options.policy, clusterId);
      if (every === 'off' || blocked.has(clusterId)) return undefined;
      return { staleAfterMs: options.staleAfterMs(clusterId, every), since: startedAt };
    },
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      if (current !== null)
        options.log(
          `walwatch: waiting for the restore drill of ${current} to finish (Ctrl-C again leaves it)`,
        );
      await chain;
    },
  };
}
