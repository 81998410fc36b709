/**
 * Synthetic fleet summary rows, for tests and benchmarks of fleets too large to build from archives.
 */
import type { FleetRow } from '../../shared/core/fleet-row.js';
import type { Status } from '../../shared/core/report.js';

const STATUSES: Status[] = ['ok', 'ok', 'ok', 'warning', 'critical'];
const SCOPES = ['orders', 'orders-eu', 'billing', 'Search', 'ledger'];

/**
 * Row `n` of a synthetic fleet as of `now`: one in five critical, one in five warning, scopes from a few
 * names (one with capitals), every 17th cluster outside Spilo's layout, every 23rd with nothing restorable.
 */
export function syntheticFleetRow(n: number, now: number): FleetRow {
  const scope = SCOPES[n % SCOPES.length] as string;
  const id = n % 17 === 0 ? `archive/team-${n}` : `spilo/${scope}-${n}/wal/${n % 2 === 0 ? '16' : '15'}`;
  const recoveryPointAt = n % 23 === 0 ? null : new Date(now - ((n * 7919) % 86_400) * 1000).toISOString();
  const status = STATUSES[(n * 3) % STATUSES.length] as Status;
  return {
    id,
    scope: id.startsWith('spilo/') ? `${scope}-${n}` : null,
    uid: null,
    pgMajor: id.startsWith('spilo/') ? (n % 2 === 0 ? '16' : '15') : null,
    status,
    worstProblem:
      status === 'ok' ? null : { kind: 'archive-stale', severity: status, subject: 'wal', message: 'old' },
    latestRecoverable: null,
    earliestRecoverable: null,
    recoveryPointAt,
    lastArchivedAt: recoveryPointAt,
    lastBackupAt: new Date(now - 3_600_000).toISOString(),
    problems: status === 'ok' ? 0 : 1,
    criticalProblems: status === 'critical' ? 1 : 0,
    gaps: 0,
    lostGapSegments: 0,
    pendingGaps: 0,
    backups: 1,
    restorableBackups: 1,
    analyzedAt: new Date(now - 60_000).toISOString(),
  };
}
