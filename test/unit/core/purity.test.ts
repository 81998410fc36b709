import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const BIOME = join(ROOT, 'node_modules', '.bin', 'biome');
const IMPURE = [
  "import { readFileSync } from 'node:fs';",
  "import { S3Client } from '@aws-sdk/client-s3';",
  'export const read = readFileSync;',
  'export const client = S3Client;',
  'export const region = process.env.AWS_REGION;',
  'export const now = Date.now();',
  '',
].join('\n');

/** Lints a probe file written at `relativePath` and returns the rules it broke. */
async function brokenRules(relativePath: string): Promise<string[]> {
  const path = join(ROOT, relativePath);
  await writeFile(path, IMPURE);
  try {
    const { stdout, stderr } = await promisify(execFile)(BIOME, ['lint', '--max-diagnostics=50', path], {
      cwd: ROOT,
    }).catch((error: { stdout: string; stderr: string }) => error);
    return [...`${stdout}${stderr}`.matchAll(/lint\/style\/(noRestricted\w+)/g)].map(
      (match) => match[1] as string,
    );
  } finally {
    await rm(path, { force: true });
  }
}

describe('the core purity lint rule', () => {
  it('rejects SDK and Node imports, the environment and the clock inside shared/core', async () => {
    const rules = await brokenRules(`shared/core/zz-purity-probe-${process.pid}.ts`);
    expect(rules.filter((rule) => rule === 'noRestrictedImports')).toHaveLength(2);
    expect(rules.filter((rule) => rule === 'noRestrictedGlobals')).toHaveLength(2);
  });

  it('leaves adapters outside the core alone', async () => {
    expect(await brokenRules(`shared/sources/zz-purity-probe-${process.pid}.ts`)).toEqual([]);
  });
});
