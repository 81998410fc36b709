/**
 * Archive documents — sentinels, `metadata.json`, timeline histories — from stored bytes to text.
 */
import { type CompressionMethod, decompress } from './decompress.js';

/** Documents are a few KB; anything larger than this is reported, not read. */
export const MAX_DOCUMENT_BYTES = 256 * 1024;

/** A document's text, or why it cannot be used. */
export type DocumentRead = { readonly text: string } | { readonly error: string };

/**
 * Decompresses and decodes one document body (strict UTF-8). Decoding failures are facts about the object
 * (unreadable, corrupt or too large content, invalid UTF-8), so they come back as `{ error }`, never thrown.
 */
export async function decodeDocument(
  body: Uint8Array,
  compression: CompressionMethod,
): Promise<DocumentRead> {
  try {
    const plain = await decompress(body, compression, { maxBytes: MAX_DOCUMENT_BYTES });
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(plain) };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}
