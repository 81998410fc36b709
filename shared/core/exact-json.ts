/**
 * JSON parsing that keeps every integer exact.
 *
 * WAL-G writes LSNs and `SystemIdentifier` as JSON numbers, and system identifiers exceed 2^53
 * (`7507672962298572862`). `JSON.parse` would round them; here integers come back as `bigint` when a
 * `number` cannot hold them.
 */
import { isInteger, isSafeNumber, parse } from 'lossless-json';

/** A parsed JSON value whose unsafe integers are `bigint`. */
export type ExactJson =
  | null
  | boolean
  | number
  | bigint
  | string
  | ExactJson[]
  | { [key: string]: ExactJson };

/** Parses JSON text; returns an error message instead of throwing on malformed input. */
export function parseExactJson(text: string): { ok: true; value: ExactJson } | { ok: false; error: string } {
  try {
    const value = parse(text, null, (digits) =>
      isInteger(digits) && !isSafeNumber(digits) ? BigInt(digits) : Number(digits),
    ) as ExactJson;
    return { ok: true, value };
  } catch (error) {
    return { ok: false, error: `malformed JSON: ${(error as Error).message}` };
  }
}

/** Whether a parsed value is a JSON object (not an array, not null). */
export function isJsonObject(value: ExactJson | undefined): value is { [key: string]: ExactJson } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An unsigned integer field as a decimal string, exact at any size; `undefined` when absent or not one. */
export function readUnsigned(value: ExactJson | undefined): string | undefined {
  if (typeof value === 'bigint') return value >= 0n ? value.toString() : undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return BigInt(value).toString();
  return undefined;
}

/** A safe integer field; `undefined` when absent, fractional or too large for a `number`. */
export function readInteger(value: ExactJson | undefined): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : undefined;
}

/** A string field; `undefined` when absent or of another type. */
export function readString(value: ExactJson | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** A boolean field; `undefined` when absent or of another type. */
export function readBoolean(value: ExactJson | undefined): boolean | undefined {
  return typeof value === 'boolean' ? value : undefined;
}
