/**
 * What the reconcile Lambdas (the run and the inventory worker) fold with, built once per container from
 * the pipeline config.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { settingFor } from '../config/cluster-setting.js';
import { readSegmentHeaderSize } from '../sources/read-segment-summary.js';
import { createDocumentClient } from '../store/client.js';
import type { PipelineConfig } from './pipeline-config.js';
import type { ReconcileDependencies } from './reconcile-archive.js';
import { lazyS3ObjectReader, readArchiveDocument } from './s3-objects.js';

/**
 * Builds the table and bucket clients and the readers a reconcile folds with: documents decompressed,
 * segment sizes from a segment's page header where the config does not set them.
 */
export function createReconcileDependencies(config: PipelineConfig): ReconcileDependencies {
  const s3 = new S3Client({
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const segments = lazyS3ObjectReader(async () => s3, config.bucket);
  return {
    db: createDocumentClient(),
    table: config.table,
    s3,
    bucket: config.bucket,
    segmentSizeOf: (clusterId) => settingFor(config.segmentSizes, clusterId),
    readDocument: (key, compression) => readArchiveDocument(s3, config.bucket, key, compression),
    readSegmentHeader: (key) => readSegmentHeaderSize(segments, key),
  };
}
