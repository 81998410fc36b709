/**
 * The restore drill task: the entry point of the drill container image (`infra/drill-image/Dockerfile`),
 * started by the `restoreDrill` schedule of `WalBackupMonitor` as an ECS Fargate task. It drills the
 * clusters of `WALWATCH_DRILL_TARGETS` one after the other against the archive bucket and writes each
 * record into the walwatch table, marking the cluster's fleet row; the sweeper turns them into alerts and metrics.
 *
 * Exit code 0 when every record was stored (whatever the verdicts: they are data, and alert), 1 when the
 * settings are wrong or the store refused a write.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { readDrillTaskConfig, runDrillTask } from '../shared/drill/drill-task.js';
import { runDrill } from '../shared/drill/run-drill.js';
import { createDocumentClient } from '../shared/store/client.js';
import { putDrillRecord } from '../shared/store/drill-items.js';
import { markFleetRowChanged } from '../shared/store/fleet-rows.js';

const logger = new Logger({ serviceName: 'walwatch-drill' });

try {
  const config = readDrillTaskConfig(process.env);
  const db = createDocumentClient();
  const records = await runDrillTask(config, {
    runDrill,
    putDrill: async (record) => {
      await putDrillRecord(db, config.tableName, record);
      // The sweeper re-analyses the cluster: its fleet row shows the new drill.
      await markFleetRowChanged(db, config.tableName, record.cluster, { drill: true });
    },
    now: Date.now,
    log: (message, fields) => logger.info(message, fields ?? {}),
  });
  logger.info('restore drills stored', { verdicts: records.map((r) => [r.cluster, r.verdict]) });
} catch (error) {
  logger.error('restore drill task failed', error as Error);
  process.exitCode = 1;
}
