import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeKey, parseNotification } from '../../../shared/events/s3-notification.js';

const minioBody = (name: string): string =>
  readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'minio', name), 'utf8');

const record = (overrides: Record<string, unknown> = {}, object: Record<string, unknown> = {}) => ({
  eventVersion: '2.1',
  eventSource: 'aws:s3',
  eventTime: '2026-11-24T10:00:00.123Z',
  eventName: 'ObjectCreated:Put',
  s3: {
    bucket: { name: 'archive' },
    object: { key: 'spilo/a/wal/15/wal_005/000000010000000000000001.lz4', size: 42, eTag: 'abc', ...object },
  },
  ...overrides,
});

describe('parseNotification', () => {
  it('reads a created event with its time, size, ETag and sequencer', () => {
    const body = JSON.stringify({ Records: [record({}, { sequencer: '0055AED6DCD90281E5' })] });
    expect(parseNotification(body)).toEqual({
      kind: 'events',
      ignored: 0,
      ignoredNames: [],
      events: [
        {
          bucket: 'archive',
          eventName: 'ObjectCreated:Put',
          key: 'spilo/a/wal/15/wal_005/000000010000000000000001.lz4',
          type: 'created',
          at: Date.parse('2026-11-24T10:00:00.123Z'),
          size: 42,
          etag: 'abc',
          sequencer: '0055AED6DCD90281E5',
        },
      ],
    });
  });

  it.each([
    ['ObjectRemoved:Delete', 'removed'],
    ['ObjectRemoved:DeleteMarkerCreated', 'removed'],
    ['LifecycleExpiration:Delete', 'removed'],
    ['ObjectCreated:CompleteMultipartUpload', 'created'],
    ['ObjectCreated:Copy', 'created'],
  ])('reads %s as %s', (eventName, type) => {
    const parsed = parseNotification(
      JSON.stringify({ Records: [record({ eventName }, { size: undefined })] }),
    );
    expect(parsed.kind === 'events' && parsed.events[0]?.type).toBe(type);
  });

  it('counts event types that change no object as ignored', () => {
    const parsed = parseNotification(
      JSON.stringify({ Records: [record({ eventName: 'ObjectRestore:Completed' })] }),
    );
    expect(parsed).toEqual({
      kind: 'events',
      events: [],
      ignored: 1,
      ignoredNames: ['ObjectRestore:Completed'],
    });
  });

  it('decodes URL-encoded keys with + for a space, also with encoded slashes', () => {
    const key = 'spilo%2F%C3%BCmlaut+scope%2Fwal%2F15%2Fwal_005%2Fa%2Bb';
    const parsed = parseNotification(JSON.stringify({ Records: [record({}, { key })] }));
    expect(parsed.kind === 'events' && parsed.events[0]?.key).toBe('spilo/ümlaut scope/wal/15/wal_005/a+b');
  });

  it('reads event times without a zone as UTC', () => {
    const parsed = parseNotification(
      JSON.stringify({ Records: [record({ eventTime: '2026-11-24T10:00:00.5' })] }),
    );
    expect(parsed.kind === 'events' && parsed.events[0]?.at).toBe(Date.parse('2026-11-24T10:00:00.500Z'));
  });

  it('recognises the s3:TestEvent, also inside an SNS envelope', () => {
    const test = { Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'archive' };
    expect(parseNotification(JSON.stringify(test))).toEqual({ kind: 'test-event' });
    const envelope = { Type: 'Notification', Message: JSON.stringify(test) };
    expect(parseNotification(JSON.stringify(envelope))).toEqual({ kind: 'test-event' });
  });

  it('unwraps S3 events delivered through SNS', () => {
    const envelope = { Type: 'Notification', Message: JSON.stringify({ Records: [record()] }) };
    expect(parseNotification(JSON.stringify(envelope)).kind).toBe('events');
  });

  it.each([
    ['malformed JSON', '{"Records": [', /not JSON/],
    ['a JSON array', '[1,2]', /not a JSON object/],
    ['a message of another service', '{"hello":"world"}', /no Records array/],
    [
      'a record of another source',
      JSON.stringify({ Records: [record({ eventSource: 'aws:sqs' })] }),
      /aws:s3/,
    ],
    ['a record without a key', JSON.stringify({ Records: [record({}, { key: '' })] }), /no object key/],
    ['a bad time', JSON.stringify({ Records: [record({ eventTime: 'yesterday' })] }), /not a time/],
    [
      'a broken escape in a key',
      JSON.stringify({ Records: [record({}, { key: 'a%E0%A4%A' })] }),
      /URL-encoded/,
    ],
    ['an oversized body', 'x'.repeat(300_000), /too long/],
  ])('returns invalid with a reason for %s', (_name, body, reason) => {
    const parsed = parseNotification(body);
    expect(parsed.kind).toBe('invalid');
    expect(parsed.kind === 'invalid' && parsed.reason).toMatch(reason);
  });
});

describe('parseNotification of MinIO webhook bodies', () => {
  it('reads s3:ObjectCreated:Put from eventSource minio:s3, exactly as MinIO posts it', () => {
    expect(parseNotification(minioBody('object-created-put.json'))).toEqual({
      kind: 'events',
      ignored: 0,
      ignoredNames: [],
      events: [
        {
          bucket: 'wal',
          eventName: 's3:ObjectCreated:Put',
          key: 'spilo/demo/wal/15/wal_005/000000010000000000000003.lz4',
          type: 'created',
          at: Date.parse('2026-11-24T14:32:15.123Z'),
          size: 1048576,
          etag: '0f343b0931126a20f133d67c2b018a3b',
          sequencer: '187B1F3C4D2A5E10',
        },
      ],
    });
  });

  it('reads s3:ObjectRemoved:Delete, which carries no size or ETag', () => {
    const parsed = parseNotification(minioBody('object-removed-delete.json'));
    expect(parsed.kind === 'events' && parsed.events).toEqual([
      expect.objectContaining({
        type: 'removed',
        size: null,
        etag: null,
        eventName: 's3:ObjectRemoved:Delete',
      }),
    ]);
  });

  it.each([
    ['s3:ObjectCreated:CompleteMultipartUpload', 'created'],
    ['s3:ObjectCreated:Copy', 'created'],
    ['s3:ObjectRemoved:DeleteMarkerCreated', 'removed'],
    ['s3:ObjectRemoved:DeleteAllVersions', 'removed'],
  ])('reads %s as %s', (eventName, type) => {
    const body = minioBody('object-created-put.json').replaceAll('s3:ObjectCreated:Put', eventName);
    const parsed = parseNotification(body);
    expect(parsed.kind === 'events' && parsed.events[0]?.type).toBe(type);
  });

  it.each([
    's3:ObjectCreated:PutTagging',
    's3:ObjectCreated:PutRetention',
    's3:ObjectAccessed:Get',
    's3:LifecycleDelMarkerExpiration:Delete',
  ])('lists %s as ignored: it changes no archive object', (eventName) => {
    const body = minioBody('object-created-put.json').replaceAll('s3:ObjectCreated:Put', eventName);
    expect(parseNotification(body)).toMatchObject({ kind: 'events', events: [], ignoredNames: [eventName] });
  });
});

describe('decodeKey', () => {
  it('returns undefined for a malformed escape', () => {
    expect(decodeKey('%zz')).toBeUndefined();
  });
});
