/**
 * Fact items: per object key (or per segment, for all keys naming it) the `KeyFact` the last-writer-wins
 * gate decided, read in batches and written with a version check.
 */
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  type DynamoDBDocumentClient,
  PutCommand,
} from '@aws-sdk/lib-dynamodb';
import type { KeyFact } from '../core/facts.js';
import type { DocumentContent } from '../core/memory-archive.js';
import type { Overwrite } from '../core/state.js';
import { isConditionFailure, StoreAccessError, translateStoreError } from './errors.js';

/** What the store keeps for one object key. */
export interface StoredFact {
  readonly fact: KeyFact;
  /** Body of a document (sentinel, metadata, history) for the fact's version, or why it is unreadable. */
  readonly content?: DocumentContent;
  /** The last time this key was stored again with other content. */
  readonly overwrite?: Overwrite;
}

/** One fact item: an object key's fact, or every compression variant of one segment. */
export interface FactItem {
  readonly pk: string;
  /** Optimistic-locking version; 0 for an item not yet stored. */
  readonly ver: number;
  /** Facts by full object key. */
  readonly facts: Readonly<Record<string, StoredFact>>;
}

/** The sparse index attributes of a present segment (see `table.ts`). */
export interface IndexKey {
  readonly gc: string;
  readonly gn: string;
}

const BATCH_GET_LIMIT = 100;
const UNPROCESSED_ATTEMPTS = 8;

/** Reads fact items with strongly consistent reads; absent items are missing from the map. */
export async function getFactItems(
  db: DynamoDBDocumentClient,
  table: string,
  pks: Iterable<string>,
): Promise<Map<string, FactItem>> {
  const items = new Map<string, FactItem>();
  const unique = [...new Set(pks)];
  for (let start = 0; start < unique.length; start += BATCH_GET_LIMIT) {
    let keys: Array<Record<string, unknown>> = unique
      .slice(start, start + BATCH_GET_LIMIT)
      .map((pk) => ({ pk }));
    for (let attempt = 0; keys.length > 0; attempt++) {
      if (attempt >= UNPROCESSED_ATTEMPTS) {
        throw new StoreAccessError(
          `BatchGetItem left ${keys.length} keys unprocessed after ${attempt} attempts`,
        );
      }
      if (attempt > 0) await pause(attempt);
      let response: BatchGetCommandOutput;
      try {
        response = await db.send(
          new BatchGetCommand({
            RequestItems: {
              [table]: { Keys: keys, ConsistentRead: true, ProjectionExpression: 'pk, ver, facts' },
            },
            ReturnConsumedCapacity: 'TOTAL',
          }),
        );
      } catch (error) {
        throw translateStoreError('BatchGetItem', error);
      }
      for (const raw of response.Responses?.[table] ?? []) {
        const item = raw as unknown as FactItem;
        items.set(item.pk, { pk: item.pk, ver: item.ver, facts: item.facts ?? {} });
      }
      keys = response.UnprocessedKeys?.[table]?.Keys ?? [];
    }
  }
  return items;
}

/**
 * Writes a fact item if its stored version is still `item.ver` (or it is still absent when `ver` is 0),
 * as version `ver + 1`. `index` sets the sparse index attributes; `null` removes them.
 * Returns `conflict` when another writer got there first.
 */
export async function putFactItem(
  db: DynamoDBDocumentClient,
  table: string,
  item: FactItem,
  index?: IndexKey | null,
): Promise<'written' | 'conflict'> {
  try {
    await db.send(
      new PutCommand({
        TableName: table,
        Item: { pk: item.pk, ver: item.ver + 1, facts: item.facts, ...(index ?? {}) },
        ...(item.ver === 0
          ? { ConditionExpression: 'attribute_not_exists(pk)' }
          : { ConditionExpression: 'ver = :ver', ExpressionAttributeValues: { ':ver': item.ver } }),
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    return 'written';
  } catch (error) {
    if (isConditionFailure(error)) return 'conflict';
    throw translateStoreError('PutItem (fact)', error);
  }
}

function pause(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.min(1000, 20 * 2 ** attempt * Math.random())));
}
