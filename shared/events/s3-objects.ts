/**
 * The two S3 operations the event pipeline needs: reading one small document (sentinel, `metadata.json`,
 * history) decompressed, and listing a prefix after a key. SDK errors are translated here.
 *
 * `@aws-sdk/client-s3` is imported on first use, not at module load: it costs about 100 ms of a cold
 * start, and most ingest batches hold only segments, which are never read.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { type DocumentRead, decodeDocument } from '../codec/document.js';

export { type DocumentRead, MAX_DOCUMENT_BYTES } from '../codec/document.js';

import type { ObjectEvent } from '../core/facts.js';
import type { Compression } from '../core/keys.js';
import { type ObjectReader, SourceAccessError } from '../sources/archive-source.js';
import { readS3ObjectHead } from '../sources/s3-object-head.js';

/** S3 could not be reached or refused the request: worth retrying, never a fact about the object. */
export class ObjectAccessError extends Error {
  override readonly name = 'ObjectAccessError';
}

/**
 * Reads and decompresses one document. A body that cannot be decoded is a value (`{ error }`), so a corrupt
 * history or a garbage sentinel becomes a reported problem; an object that is gone is one too (its removal
 * event follows). Network and permission failures throw `ObjectAccessError`, so the message is retried.
 */
export async function readArchiveDocument(
  client: S3Client,
  bucket: string,
  key: string,
  compression: Compression,
): Promise<DocumentRead> {
  let body: Uint8Array;
  try {
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    body = (await response.Body?.transformToByteArray()) ?? new Uint8Array();
  } catch (error) {
    const name = (error as { name?: string }).name;
    if (name === 'NoSuchKey' || name === 'NotFound') return { error: 'object was gone when read' };
    throw new ObjectAccessError(`cannot read s3://${bucket}/${key}: ${describe(error)}`, { cause: error });
  }
  return decodeDocument(body, compression);
}

/**
 * Lists every object under `prefix` whose key sorts after `startAfter`, as listing observations (created
 * events without a sequencer, at their LastModified time).
 */
export async function* listObjectsAfter(
  client: S3Client,
  bucket: string,
  prefix: string,
  startAfter?: string,
): AsyncGenerator<ObjectEvent> {
  try {
    const { paginateListObjectsV2 } = await import('@aws-sdk/client-s3');
    const pages = paginateListObjectsV2(
      { client, pageSize: 1000 },
      { Bucket: bucket, Prefix: prefix, ...(startAfter ? { StartAfter: startAfter } : {}) },
    );
    for await (const page of pages) {
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        yield {
          key: object.Key,
          type: 'created',
          at: object.LastModified?.getTime() ?? 0,
          size: object.Size ?? null,
          etag: object.ETag ?? null,
          sequencer: null,
        };
      }
    }
  } catch (error) {
    throw new ObjectAccessError(`cannot list s3://${bucket}/${prefix}: ${describe(error)}`, { cause: error });
  }
}

/**
 * An S3 client created on first use (see the module note): for handlers, which build their clients once
 * per container but should not pay for S3 until a document is read.
 */
export function createLazyS3Client(): () => Promise<S3Client> {
  let client: Promise<S3Client> | undefined;
  return () => {
    client ??= import('@aws-sdk/client-s3').then(
      ({ S3Client }) =>
        new S3Client({
          requestChecksumCalculation: 'WHEN_REQUIRED',
          responseChecksumValidation: 'WHEN_REQUIRED',
        }),
    );
    return client;
  };
}

/**
 * Segment bodies for the chain-end reader, through the lazily created client: `@aws-sdk/client-s3` loads
 * on the first read. Failures throw `SourceAccessError`; the reader tries the next extension.
 */
export function lazyS3ObjectReader(client: () => Promise<S3Client>, bucket: string): ObjectReader {
  return {
    read: async (key) => {
      try {
        const { GetObjectCommand } = await import('@aws-sdk/client-s3');
        const response = await (await client()).send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return (await response.Body?.transformToByteArray()) ?? new Uint8Array();
      } catch (error) {
        throw new SourceAccessError(`cannot read s3://${bucket}/${key}: ${describe(error)}`, {
          cause: error,
        });
      }
    },
    readHead: (key, length) => readS3ObjectHead(client, bucket, key, length),
  };
}

function describe(error: unknown): string {
  const named = error as { name?: string; message?: string };
  return `${named.name ?? 'Error'}: ${named.message ?? String(error)}`;
}
