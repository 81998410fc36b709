/**
 * Failures of the DynamoDB store, translated from SDK errors at this edge. Each keeps its `cause`.
 */

/** DynamoDB refused or failed a request (throttling after the SDK's retries, network, permissions). */
export class StoreAccessError extends Error {
  override readonly name = 'StoreAccessError';
}

/** A cluster's compressed state would exceed DynamoDB's 400 KB item limit. */
export class StateTooLargeError extends Error {
  override readonly name = 'StateTooLargeError';
}

/** Stored items contradict each other (a summary counts parts no parts item holds): never retried. */
export class InconsistentStateError extends Error {
  override readonly name = 'InconsistentStateError';
}

/** Concurrent writers kept changing an item: the optimistic update gave up after its attempts. */
export class ConflictRetriesExhaustedError extends Error {
  override readonly name = 'ConflictRetriesExhaustedError';
}

/** Wraps an SDK error with the operation that failed. */
export function translateStoreError(operation: string, error: unknown): StoreAccessError {
  const named = error as { name?: string; message?: string };
  return new StoreAccessError(
    `${operation} failed: ${named.name ?? 'Error'}: ${named.message ?? String(error)}`,
    {
      cause: error,
    },
  );
}

/** Whether an SDK error is a failed condition of a conditional write. */
export function isConditionFailure(error: unknown): boolean {
  return (error as { name?: string }).name === 'ConditionalCheckFailedException';
}
