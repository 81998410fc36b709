/**
 * Counts a document client's DynamoDB requests by operation and the read/write units they cost
 * (on-demand: an item read ≤ 4 KB is 1 unit consistent, 0.5 eventually consistent; an item write ≤ 1 KB is 1).
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Requests and units, as plain data (sent between processes). */
export interface RequestCounts {
  readonly byOperation: [string, number][];
  readonly readUnits: number;
  readonly writeUnits: number;
}

export class RequestCounter {
  readonly byOperation = new Map<string, number>();
  readUnits = 0;
  writeUnits = 0;

  attach(db: DynamoDBDocumentClient): void {
    db.middlewareStack.add(
      (next, context) => async (args) => {
        const name = String(context.commandName ?? 'unknown').replace(/Command$/, '');
        this.byOperation.set(name, (this.byOperation.get(name) ?? 0) + 1);
        const input = args.input as Record<string, unknown>;
        const result = await next(args);
        const output = result.output as Record<string, unknown>;
        if (name === 'GetItem') this.readUnits += input.ConsistentRead ? 1 : 0.5;
        else if (name === 'BatchGetItem') {
          const requested = Object.values(
            (input.RequestItems ?? {}) as Record<string, { ConsistentRead?: boolean }>,
          );
          const unit = requested.some((r) => r.ConsistentRead) ? 1 : 0.5;
          const items = Object.values((output.Responses ?? {}) as Record<string, unknown[]>).flat().length;
          this.readUnits += Math.max(1, items) * unit;
        } else if (name === 'Query')
          this.readUnits += Math.max(1, Math.ceil(Number(output.ScannedCount ?? 1) / 40)) * 0.5;
        else if (['PutItem', 'UpdateItem', 'DeleteItem'].includes(name)) this.writeUnits += 1;
        else if (name === 'BatchWriteItem') {
          const requested = Object.values((input.RequestItems ?? {}) as Record<string, unknown[]>).flat()
            .length;
          this.writeUnits += requested;
        }
        return result;
      },
      { step: 'initialize', name: 'benchCounter' },
    );
  }

  total(): number {
    return [...this.byOperation.values()].reduce((a, b) => a + b, 0);
  }

  reset(): void {
    this.byOperation.clear();
    this.readUnits = 0;
    this.writeUnits = 0;
  }

  snapshot(): RequestCounts {
    return { byOperation: [...this.byOperation], readUnits: this.readUnits, writeUnits: this.writeUnits };
  }

  add(counts: RequestCounts): void {
    for (const [name, n] of counts.byOperation)
      this.byOperation.set(name, (this.byOperation.get(name) ?? 0) + n);
    this.readUnits += counts.readUnits;
    this.writeUnits += counts.writeUnits;
  }
}
