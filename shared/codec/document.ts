/**
 * Archive documents — sentinels, `metadata.json`, timeline histories — from stored bytes to text.
 */
import { isLosslessNumber, parse, stringify } from 'lossless-json';
import { type CompressionMethod, decompress } from './decompress.js';

/** The largest document text walwatch keeps (in a fact item, whose limit is 400 KB). */
export const MAX_DOCUMENT_BYTES = 256 * 1024;

/**
 * The largest document walwatch reads. Sentinels of WAL-G up to 1.1 carry the backup's whole file list
 * (`Files`, `TarFileSets`): hundreds of KB to MBs for a large database (wal-g/wal-g#1619: 235 KB). Since
 * 1.1.1 that list lives in `files_metadata.json`. walwatch never uses it, so it is dropped (below).
 */
export const MAX_DOCUMENT_READ_BYTES = 16 * 1024 * 1024;

/** Fields of old WAL-G sentinels that only list the backup's files. */
const FILE_LIST_FIELDS = ['Files', 'TarFileSets'] as const;

/** A document's text, or why it cannot be used. */
export type DocumentRead = { readonly text: string } | { readonly error: string };

/**
 * Decompresses and decodes one document body (strict UTF-8). A JSON object above `MAX_DOCUMENT_BYTES` is
 * kept without its file lists, every other field and number exactly as written. Decoding failures are
 * facts about the object (unreadable, corrupt or too large content, invalid UTF-8), so they come back as
 * `{ error }`, never thrown.
 */
export async function decodeDocument(
  body: Uint8Array,
  compression: CompressionMethod,
): Promise<DocumentRead> {
  let plain: Uint8Array;
  let text: string;
  try {
    plain = await decompress(body, compression, { maxBytes: MAX_DOCUMENT_READ_BYTES });
    text = new TextDecoder('utf-8', { fatal: true }).decode(plain);
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
  if (plain.length <= MAX_DOCUMENT_BYTES) return { text };
  const slim = withoutFileLists(text);
  if (slim !== undefined && new TextEncoder().encode(slim).length <= MAX_DOCUMENT_BYTES)
    return { text: slim };
  return {
    error: `ContentTooLargeError: the document has ${plain.length} bytes${slim === undefined ? '' : ' (still too many without its file list)'}; at most ${MAX_DOCUMENT_BYTES} are kept`,
  };
}

/** The JSON object text without its file-list fields; `undefined` when it is not a JSON object. */
function withoutFileLists(text: string): string | undefined {
  let value: unknown;
  try {
    // Numbers stay as written (lossless), so 64-bit LSNs and system identifiers survive the round trip.
    value = parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || isLosslessNumber(value))
    return undefined;
  const object = value as Record<string, unknown>;
  for (const field of FILE_LIST_FIELDS) delete object[field];
  return stringify(object);
}
