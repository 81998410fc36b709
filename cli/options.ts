import { parseDuration } from '../shared/core/duration.js';

/**
 * Option values shared by the CLI commands: sizes and durations as people type them.
 */

/** A command-line mistake: printed as a message, exit code 3, never a stack trace. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/**
 * Parses a byte size: `16777216`, `16MiB`, `16MB`, `16M` (binary units, as PostgreSQL's `--wal-segsize`).
 *
 * @example parseByteSize('64MiB') // 67108864
 */
export function parseByteSize(text: string): number {
  const match = /^(\d+)\s*([a-zA-Z]*)$/.exec(text.trim());
  const unit = match ? SIZE_UNITS[(match[2] as string).toLowerCase()] : undefined;
  if (!match || unit === undefined) throw new UsageError(`not a size: ${text} (try 16MiB)`);
  return Number(match[1]) * unit;
}

/**
 * Parses a duration in milliseconds: `90` (seconds), `90s`, `5m`, `1h`, `26h`, `2d`.
 *
 * @example parseDurationOption('5m') // 300000
 */
export function parseDurationOption(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new UsageError(`not a duration: ${text} (try 90s, 5m, 1h or 2d)`);
  return ms;
}
