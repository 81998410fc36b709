/**
 * Durations as people write them in options and settings: `90s`, `5m`, `1h`, `26h`, `2d`; a plain number is
 * seconds.
 */

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};
const DURATION = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/;

/**
 * Parses a duration into milliseconds; `undefined` when the text is not one.
 *
 * @example parseDuration('5m') // 300000
 */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  const unit = match[2] === '' ? 1000 : UNIT_MS[match[2] as string];
  return unit === undefined ? undefined : Number(match[1]) * unit;
}
