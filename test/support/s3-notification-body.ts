/**
 * SQS message bodies exactly as S3 writes them for object events: one record per body, the key
 * URL-encoded with `+` for a space, the ETag unquoted.
 */
import type { ObjectEvent } from '../../shared/core/facts.js';

/** Encodes a key as S3 does in event notifications. */
export function encodeEventKey(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
}

/** The SQS body S3 sends for one event in `bucket`. */
export function notificationBody(bucket: string, event: ObjectEvent): string {
  const created = event.type === 'created';
  return JSON.stringify({
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: 'eu-central-1',
        eventTime: new Date(event.at).toISOString(),
        eventName: created ? 'ObjectCreated:Put' : 'ObjectRemoved:Delete',
        s3: {
          s3SchemaVersion: '1.0',
          bucket: { name: bucket, arn: `arn:aws:s3:::${bucket}` },
          object: {
            key: encodeEventKey(event.key),
            ...(created ? { size: event.size ?? 0, eTag: (event.etag ?? '').replace(/"/g, '') } : {}),
            ...(event.sequencer ? { sequencer: event.sequencer } : {}),
          },
        },
      },
    ],
  });
}

/** Encodes a key as Go's `url.QueryEscape`, which MinIO applies to event keys (`/` too, `+` for a space). */
export function queryEscape(key: string): string {
  return encodeURIComponent(key)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/**
 * The body MinIO's webhook target posts for one event in `bucket` (the shape of
 * `test/fixtures/minio/object-created-put.json`): `EventName`, `Key` and one record with
 * `eventSource: "minio:s3"` and `s3:`-prefixed event names.
 */
export function minioWebhookBody(
  bucket: string,
  event: { readonly key: string; readonly eventName: string; readonly at: number; readonly size?: number },
): string {
  const removed = event.eventName.startsWith('s3:ObjectRemoved:');
  const sequencer = (BigInt(event.at) * 1_000_000n).toString(16).toUpperCase();
  return JSON.stringify({
    EventName: event.eventName,
    Key: `${bucket}/${event.key}`,
    Records: [
      {
        eventVersion: '2.0',
        eventSource: 'minio:s3',
        awsRegion: '',
        eventTime: new Date(event.at).toISOString(),
        eventName: event.eventName,
        userIdentity: { principalId: 'minioadmin' },
        requestParameters: { principalId: 'minioadmin', region: '', sourceIPAddress: '127.0.0.1' },
        responseElements: {
          'x-amz-id-2': 'dd9025bab4ad464b049177c95eb6ebf374d3b3fd1af9251148b658df7ac2e3e8',
          'x-amz-request-id': sequencer,
          'x-minio-deployment-id': '5f1e9a42-7c3b-4d1e-9a0f-3b2c1d4e5f60',
          'x-minio-origin-endpoint': 'http://127.0.0.1:9000',
        },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'Config',
          bucket: {
            name: bucket,
            ownerIdentity: { principalId: 'minioadmin' },
            arn: `arn:aws:s3:::${bucket}`,
          },
          object: {
            key: queryEscape(event.key),
            ...(removed
              ? {}
              : {
                  size: event.size ?? 0,
                  eTag: '0f343b0931126a20f133d67c2b018a3b',
                  contentType: 'application/octet-stream',
                  userMetadata: { 'content-type': 'application/octet-stream' },
                }),
            sequencer,
          },
        },
        source: { host: '127.0.0.1', port: '', userAgent: 'MinIO (linux; amd64) minio-go/v7.0.90' },
      },
    ],
  });
}
