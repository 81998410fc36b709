import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { describeTable } from '../../shared/store/table.js';

/** Raised when `describeTable` holds something the CDK table cannot express. */
export class MonitorTableError extends Error {
  override readonly name = 'MonitorTableError';
}

/** The walwatch table as `describeTable` (`shared/store/table.ts`) defines it, with PITR and encryption. */
export function createMonitorTable(scope: Construct, removalPolicy: RemovalPolicy): Table {
  const definition = describeTable('');
  const types = new Map(
    (definition.AttributeDefinitions ?? []).map((a) => [
      a.AttributeName,
      a.AttributeType === 'S'
        ? AttributeType.STRING
        : a.AttributeType === 'N'
          ? AttributeType.NUMBER
          : AttributeType.BINARY,
    ]),
  );
  const key = (schema: typeof definition.KeySchema, type: 'HASH' | 'RANGE') => {
    const name = schema?.find((k) => k.KeyType === type)?.AttributeName;
    return name === undefined ? undefined : { name, type: types.get(name) ?? AttributeType.STRING };
  };
  const partitionKey = key(definition.KeySchema, 'HASH');
  if (partitionKey === undefined || definition.BillingMode !== 'PAY_PER_REQUEST') {
    throw new MonitorTableError(
      `describeTable() must define an on-demand table with a partition key, got ${JSON.stringify(definition)}`,
    );
  }
  const table = new Table(scope, 'Table', {
    partitionKey,
    sortKey: key(definition.KeySchema, 'RANGE'),
    billingMode: BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    encryption: TableEncryption.AWS_MANAGED,
    deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
    removalPolicy,
  });
  for (const index of definition.GlobalSecondaryIndexes ?? []) {
    const indexPartitionKey = key(index.KeySchema, 'HASH');
    if (index.IndexName === undefined || indexPartitionKey === undefined) {
      throw new MonitorTableError(
        `describeTable() has an index without name or key: ${JSON.stringify(index)}`,
      );
    }
    table.addGlobalSecondaryIndex({
      indexName: index.IndexName,
      partitionKey: indexPartitionKey,
      sortKey: key(index.KeySchema, 'RANGE'),
      projectionType:
        index.Projection?.ProjectionType === 'KEYS_ONLY'
          ? ProjectionType.KEYS_ONLY
          : index.Projection?.ProjectionType === 'INCLUDE'
            ? ProjectionType.INCLUDE
            : ProjectionType.ALL,
      nonKeyAttributes: index.Projection?.NonKeyAttributes,
    });
  }
  return table;
}
