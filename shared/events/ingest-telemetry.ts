/**
 * Log lines and metrics of one ingested batch: one line per failed message with its reason, one per
 * noted fact (bad document, key outside any archive), one metric per counter, so every bad input is
 * visible in both.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { IngestReport } from './ingest-messages.js';

/** Logs failures and adds the batch's counters as metrics (published when the handler returns). */
export function recordIngestReport(logger: Logger, metrics: Metrics, report: IngestReport): void {
  for (const failure of report.failures) {
    const fields = { messageId: failure.messageId, reason: failure.reason };
    if (failure.kind === 'invalid-message')
      logger.warn('invalid message: left for the dead-letter queue', fields);
    else logger.error('folding failed: message will be retried', { ...fields, error: failure.error });
  }
  for (const note of report.notes) {
    if (note.kind === 'outside-archive') logger.info('key outside any archive: ignored', { key: note.key });
    else if (note.kind === 'unstorable-key')
      logger.warn('key the table cannot hold: ignored', { key: note.key, reason: note.reason });
    else
      logger.warn(`${note.kind}: reported as a problem of its cluster`, {
        key: note.key,
        reason: note.reason,
      });
  }
  for (const [name, value] of Object.entries(report.counts)) {
    if (value > 0) metrics.addMetric(name, MetricUnit.Count, value);
  }
  logger.info('batch ingested', { counts: report.counts });
}
