/**
 * Backup history files (`<24hex>.<8hex>.backup`) that PostgreSQL writes at `pg_backup_stop` on a primary.
 * Facts: walg-layout.md §4.4.
 */
import { parseLsn } from './lsn.js';

/** The fields of a backup history file (LSNs as exact decimal strings). */
export interface BackupLabel {
  readonly startLsn: string;
  readonly stopLsn: string | null;
  readonly checkpointLsn: string | null;
  readonly startTimeline: number | null;
  readonly stopTimeline: number | null;
  readonly startTime: string | null;
  readonly stopTime: string | null;
  readonly label: string | null;
  readonly method: string | null;
  readonly from: string | null;
}

/** Parsed label, or why not. */
export type BackupLabelParse =
  | { readonly ok: true; readonly label: BackupLabel }
  | { readonly ok: false; readonly error: string };

/** Parses the text of a `.backup` file (also the `backup_label` file, which lacks the STOP lines). */
export function parseBackupLabel(text: string): BackupLabelParse {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(': ');
    if (colon > 0) fields.set(line.slice(0, colon).trim(), line.slice(colon + 2).trim());
  }
  const lsnOf = (field: string): string | null => {
    const value = fields.get(field);
    const lsn = value === undefined ? undefined : parseLsn(value.split(' ')[0] as string);
    return lsn === undefined ? null : lsn.toString();
  };
  const intOf = (field: string): number | null => {
    const value = fields.get(field);
    return value !== undefined && /^\d+$/.test(value) ? Number(value) : null;
  };
  const startLsn = lsnOf('START WAL LOCATION');
  if (startLsn === null) return { ok: false, error: 'no START WAL LOCATION line' };
  return {
    ok: true,
    label: {
      startLsn,
      stopLsn: lsnOf('STOP WAL LOCATION'),
      checkpointLsn: lsnOf('CHECKPOINT LOCATION'),
      startTimeline: intOf('START TIMELINE'),
      stopTimeline: intOf('STOP TIMELINE'),
      startTime: fields.get('START TIME') ?? null,
      stopTime: fields.get('STOP TIME') ?? null,
      label: fields.get('LABEL') ?? null,
      method: fields.get('BACKUP METHOD') ?? null,
      from: fields.get('BACKUP FROM') ?? null,
    },
  };
}
