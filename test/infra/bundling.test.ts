import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { App, Stack } from 'aws-cdk-lib';
import { afterAll, describe, expect, it } from 'vitest';
import { WalArchiveBucket } from '../../infra/constructs/wal-archive-bucket.js';
import { WalBackupMonitor } from '../../infra/constructs/wal-backup-monitor.js';
import { ENV } from '../../shared/config/env.js';
import { SYNTH_TIMEOUT_MS, testContext } from './support.js';

const run = promisify(execFile);
// Inside the repository, so a bundle's external `@aws-sdk/*` imports resolve from its node_modules,
// as they resolve from the runtime's on Lambda.
const TMP = fileURLToPath(new URL('../../.tmp/', import.meta.url));

describe('function bundles', { timeout: SYNTH_TIMEOUT_MS }, () => {
  mkdirSync(TMP, { recursive: true });
  const outdir = mkdtempSync(join(TMP, 'bundling-'));
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it('bundles the six handlers with the local esbuild into ESM that Node loads', async () => {
    const context = testContext();
    delete context['aws:cdk:bundling-stacks'];
    const app = new App({ context, outdir });
    const stack = new Stack(app, 'Bundled', { env: { account: '111111111111', region: 'eu-central-1' } });
    const archive = new WalArchiveBucket(stack, 'Archive', { archiveRoots: ['spilo/demo/wal/17/'] });
    new WalBackupMonitor(stack, 'Monitor', {
      archiveBucket: archive.bucket,
      archiveRoots: archive.archiveRoots,
      archiveInventory: archive.inventory,
    });
    app.synth();

    const bundles = readdirSync(outdir)
      .filter((name) => name.startsWith('asset.'))
      .map((name) => join(outdir, name, 'index.mjs'))
      .filter((file) => existsSync(file));
    expect(bundles).toHaveLength(6);
    for (const bundle of bundles) {
      const code = readFileSync(bundle, 'utf8');
      // esbuild's dynamic-require shim throws at run time in ESM; no dependency may need it.
      expect(code, bundle).not.toContain('Dynamic require of');
      expect(code, bundle).not.toMatch(/node_modules\/@aws-sdk\//);
      expect(existsSync(`${bundle}.map`), bundle).toBe(true);
      const loaded = await run(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const m = await import(${JSON.stringify(pathToFileURL(bundle).href)}); console.log(typeof m.handler);`,
        ],
        {
          env: {
            PATH: process.env.PATH,
            AWS_REGION: 'eu-central-1',
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
            [ENV.archiveBucketName]: 'bucket',
            [ENV.tableName]: 'table',
            [ENV.archiveRoots]: 'spilo/demo/wal/17/',
          },
        },
      );
      expect(loaded.stdout.trim(), bundle).toBe('function');
    }
  });
});
