/**
 * An in-process DynamoDB-API server (dynalite) on a random port, with the walwatch table created.
 * dynalite ships no types; the little used here is declared below.
 */
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { createDocumentClient } from '../../shared/store/client.js';
import { describeTable } from '../../shared/store/table.js';

/** A running dynalite with one walwatch table. */
export interface LocalDynamo {
  readonly endpoint: string;
  readonly table: string;
  /** A document client for the table; pass `maxAttempts` etc. to `client()` for another. */
  readonly db: DynamoDBDocumentClient;
  client(options?: { maxAttempts?: number }): DynamoDBDocumentClient;
  /** Creates another empty walwatch table and returns its name. */
  createTable(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** Credentials a local server accepts. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'walwatch', secretAccessKey: 'walwatch' };

/** Starts dynalite in memory and creates `table`. */
export async function startDynalite(table = 'walwatch'): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, updateTableMs: 0, deleteTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = (options: { maxAttempts?: number } = {}): DynamoDBDocumentClient =>
    createDocumentClient({ endpoint, region: 'eu-central-1', credentials: LOCAL_CREDENTIALS, ...options });
  const raw = new DynamoDBClient({ endpoint, region: 'eu-central-1', credentials: LOCAL_CREDENTIALS });
  const createTable = async (name: string): Promise<string> => {
    await raw.send(new CreateTableCommand(describeTable(name)));
    for (let i = 0; i < 100; i++) {
      const { Table } = await raw.send(new DescribeTableCommand({ TableName: name }));
      if (
        Table?.TableStatus === 'ACTIVE' &&
        Table.GlobalSecondaryIndexes?.every((i) => i.IndexStatus === 'ACTIVE')
      ) {
        return name;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`table ${name} did not become active`);
  };
  await createTable(table);
  return {
    endpoint,
    table,
    db: client(),
    client,
    createTable,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
