import { readByteSize } from '../shared/config/byte-size.js';
import { parseDuration } from '../shared/core/duration.js';

/**
 * Option values shared by the CLI commands: sizes and durations as people type them.
 */

/** A command-line mistake: printed as a message, exit code 3, never a stack trace. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * Parses a byte size: `16777216`, `16MiB`, `16MB`, `16M` (binary units, as PostgreSQL's `--wal-segsize`).
 *
 * @example parseByteSize('64MiB') // 67108864
 */
export function parseByteSize(text: string): number {
  const size = readByteSize(text);
  if (size === undefined) throw new UsageError(`not a size: ${text} (try 16MiB)`);
  return size;
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
