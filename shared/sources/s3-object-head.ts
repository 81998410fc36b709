/**
 * A ranged read of an S3 object's first bytes, for the archive source and the event pipeline's reader.
 * `@aws-sdk/client-s3` is imported on first use: the event pipeline keeps it out of its cold start.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { SourceAccessError } from './archive-source.js';

/**
 * Reads the first `length` bytes of `s3://bucket/key` (fewer when the object is shorter, none when it is
 * empty). Failures, including building the client, throw `SourceAccessError`.
 */
export async function readS3ObjectHead(
  client: () => S3Client | Promise<S3Client>,
  bucket: string,
  key: string,
  length: number,
): Promise<Uint8Array> {
  try {
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const response = await (await client()).send(
      new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=0-${length - 1}` }),
    );
    return (await response.Body?.transformToByteArray()) ?? new Uint8Array();
  } catch (error) {
    // An empty object has no byte 0: S3 refuses the range rather than answering nothing.
    if ((error as { name?: string }).name === 'InvalidRange') return new Uint8Array();
    throw new SourceAccessError(`cannot read s3://${bucket}/${key}: ${describeS3Error(error)}`, {
      cause: error,
    });
  }
}

/** An SDK error as `Name: message`, or just the message of a plain `Error`. */
export function describeS3Error(error: unknown): string {
  const named = error as { name?: string; message?: string };
  return named.name && named.name !== 'Error'
    ? `${named.name}: ${named.message ?? ''}`
    : String(named.message ?? error);
}
