/**
 * An S3 (or S3-compatible) bucket prefix as an archive source, through the AWS SDK v3: paginated
 * ListObjectsV2 and single GetObject reads. Credentials come from the default AWS provider chain.
 */
import { GetObjectCommand, paginateListObjectsV2, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { ListedObject } from '../core/state.js';
import { type ArchiveSource, SourceAccessError } from './archive-source.js';
import { describeS3Error, readS3ObjectHead } from './s3-object-head.js';

/** Where and how to reach the bucket. */
export interface S3SourceOptions {
  readonly bucket: string;
  /** Key prefix to list below; `''` for the whole bucket. */
  readonly prefix: string;
  /** Endpoint of an S3-compatible store; the SDK also honours `AWS_ENDPOINT_URL`. */
  readonly endpoint?: string;
  /** Path-style addressing (most S3-compatible stores need it). */
  readonly forcePathStyle?: boolean;
  readonly region?: string;
}

/** Parses `s3://bucket[/prefix]`; `undefined` when the text is not such a URL. */
export function parseS3Url(url: string): { bucket: string; prefix: string } | undefined {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!match) return undefined;
  return { bucket: match[1] as string, prefix: match[2] as string };
}

/** Builds an S3 client for the options: checksums only when required, for S3-compatible stores. */
export function createS3Client(options: Omit<S3SourceOptions, 'bucket' | 'prefix'>): S3Client {
  const config: S3ClientConfig = {
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
  if (options.endpoint) config.endpoint = options.endpoint;
  if (options.forcePathStyle !== undefined) config.forcePathStyle = options.forcePathStyle;
  if (options.region) config.region = options.region;
  else if (!process.env.AWS_REGION && !process.env.AWS_DEFAULT_REGION) config.region = 'us-east-1';
  return new S3Client(config);
}

/** Opens a bucket prefix as an archive source. */
export function openS3Source(
  options: S3SourceOptions,
  client: S3Client = createS3Client(options),
): ArchiveSource {
  const { bucket, prefix } = options;
  return {
    description: `s3://${bucket}/${prefix}`,
    list: () => listBucket(client, bucket, prefix),
    read: async (key, options) => {
      const signal = options?.signal;
      try {
        const response = await client.send(
          new GetObjectCommand({ Bucket: bucket, Key: key }),
          signal ? { abortSignal: signal } : {},
        );
        if (!response.Body) throw new Error('empty body');
        return await response.Body.transformToByteArray();
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        throw new SourceAccessError(`cannot read s3://${bucket}/${key}: ${describeS3Error(error)}`, {
          cause: error,
        });
      }
    },
    readHead: (key, length) => readS3ObjectHead(() => client, bucket, key, length),
  };
}

async function* listBucket(client: S3Client, bucket: string, prefix: string): AsyncGenerator<ListedObject> {
  try {
    for await (const page of paginateListObjectsV2(
      { client, pageSize: 1000 },
      { Bucket: bucket, Prefix: prefix },
    )) {
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        yield {
          key: object.Key,
          at: object.LastModified?.getTime() ?? 0,
          size: object.Size ?? null,
          etag: object.ETag ?? null,
        };
      }
    }
  } catch (error) {
    throw new SourceAccessError(`cannot list s3://${bucket}/${prefix}: ${describeS3Error(error)}`, {
      cause: error,
    });
  }
}
