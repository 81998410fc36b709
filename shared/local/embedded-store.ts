/**
 * The local monitor's store: dynalite (a DynamoDB-API server in pure JavaScript) started in-process and
 * persisted with LevelDB under a data folder, so the local monitor runs the exact store code of Lambda.
 */
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { createDocumentClient } from '../store/client.js';
import { describeTable } from '../store/table.js';

/** A running embedded store. */
export interface EmbeddedStore {
  readonly endpoint: string;
  readonly table: string;
  readonly db: DynamoDBDocumentClient;
  stop(): Promise<void>;
}

/** Credentials the embedded server accepts (it checks none). */
const LOCAL_CREDENTIALS = { accessKeyId: 'walwatch-local', secretAccessKey: 'walwatch-local' };
const REGION = 'local';

/** Starts dynalite on a random loopback port with its data in `dataDir` (memory only when omitted). */
export async function startEmbeddedStore(
  options: { dataDir?: string; table?: string } = {},
): Promise<EmbeddedStore> {
  const table = options.table ?? 'walwatch';
  if (options.dataDir) await mkdir(options.dataDir, { recursive: true });
  const server = dynalite({
    createTableMs: 0,
    updateTableMs: 0,
    deleteTableMs: 0,
    ...(options.dataDir ? { path: options.dataDir } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const raw = new DynamoDBClient({ endpoint, region: REGION, credentials: LOCAL_CREDENTIALS });
  try {
    await raw.send(new DescribeTableCommand({ TableName: table }));
  } catch (error) {
    if ((error as { name?: string }).name !== 'ResourceNotFoundException') throw error;
    await raw.send(new CreateTableCommand(describeTable(table)));
    await waitUntilActive(raw, table);
  }
  raw.destroy();
  const db = createDocumentClient({ endpoint, region: REGION, credentials: LOCAL_CREDENTIALS });
  return {
    endpoint,
    table,
    db,
    stop: async () => {
      db.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function waitUntilActive(client: DynamoDBClient, table: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: table }));
    if (
      Table?.TableStatus === 'ACTIVE' &&
      (Table.GlobalSecondaryIndexes ?? []).every((index) => index.IndexStatus === 'ACTIVE')
    )
      return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`table ${table} did not become active`);
}
