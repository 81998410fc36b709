/**
 * The WAL heartbeat of a Spilo node: a systemd timer that, on the leader only, writes one small WAL record.
 *
 * An idle PostgreSQL (9.6 and later) writes no WAL, so `archive_timeout` switches no segment and nothing
 * reaches the archive: from the bucket, a quiet database looks exactly like one whose archiving stopped.
 * A non-transactional logical message is WAL that counts as activity, so within `archive_timeout` of each
 * beat the segment is switched and archived, and the monitor's `archive-stale` alert keeps its meaning:
 * archiving is broken. On a replica (in recovery) the statement does nothing.
 */
import { HOST_LAYOUT } from './host-layout.js';
import { SPILO_CONTAINER_NAME } from './render-unit.js';

/** The statement each beat runs: a 9-byte logical message on a primary, nothing on a replica. */
export const HEARTBEAT_SQL =
  "SELECT CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_logical_emit_message(false, 'walwatch', 'heartbeat') END";

/** Input of {@link renderHeartbeatUnits}. */
export interface HeartbeatInput {
  /** Time between beats, in whole minutes. */
  readonly intervalMinutes: number;
}

/** The service that beats once and the timer that starts it. */
export interface HeartbeatUnits {
  readonly service: string;
  readonly timer: string;
}

/** Renders the heartbeat's oneshot service (psql in the Spilo container, as `postgres`) and its timer. */
export function renderHeartbeatUnits(input: HeartbeatInput): HeartbeatUnits {
  const service = [
    '[Unit]',
    'Description=walwatch WAL heartbeat: one logical message on the Patroni leader, so idle WAL is archived',
    'After=spilo.service',
    'Requisite=spilo.service',
    '',
    '[Service]',
    'Type=oneshot',
    `ExecStart=/usr/bin/podman exec --user postgres ${SPILO_CONTAINER_NAME} psql -d postgres -X -q -t -A -v ON_ERROR_STOP=1 -c "${HEARTBEAT_SQL}"`,
    'TimeoutStartSec=60',
    '',
  ].join('\n');
  const timer = [
    '[Unit]',
    `Description=walwatch WAL heartbeat every ${input.intervalMinutes} min`,
    '',
    '[Timer]',
    'OnBootSec=5min',
    `OnUnitActiveSec=${input.intervalMinutes}min`,
    'AccuracySec=30s',
    `Unit=${HOST_LAYOUT.heartbeatServiceFile.split('/').at(-1)}`,
    '',
    '[Install]',
    'WantedBy=timers.target',
    '',
  ].join('\n');
  return { service, timer };
}
