/**
 * The docs cannot rot: every relative link and anchor in README.md and docs/ resolves; every shell example
 * marked runnable (a fenced block whose info string is `sh runnable`) runs, in order, in a scratch folder,
 * and prints the shape of the `text` block after it (`…` stands for anything); and `docs/cli.md` documents
 * exactly the options `walwatch <command> --help` prints, and the reverse.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const DOCS = join(ROOT, 'docs');

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchorsIn(markdown: string): Set<string> {
  const withoutCode = markdown.replace(/```[\s\S]*?```/g, '');
  return new Set([...withoutCode.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchorOf(m[1] as string)));
}

async function markdownFiles(): Promise<string[]> {
  const docs = (await readdir(DOCS)).filter((name) => name.endsWith('.md')).map((name) => join(DOCS, name));
  return [join(ROOT, 'README.md'), ...docs.sort()];
}

interface Example {
  readonly file: string;
  readonly line: number;
  readonly commands: string;
  readonly shown: string | undefined;
}

/** The runnable examples of a file, each with the output block that follows it, if any. */
function examplesIn(file: string, markdown: string): Example[] {
  const examples: Example[] = [];
  const fence = /^```([^\n]*)\n([\s\S]*?)^```\s*$/gm;
  const blocks = [...markdown.matchAll(fence)].map((m) => ({
    info: (m[1] as string).trim(),
    body: m[2] as string,
    start: m.index ?? 0,
    end: (m.index ?? 0) + m[0].length,
  }));
  blocks.forEach((block, index) => {
    if (block.info !== 'sh runnable') return;
    const next = blocks[index + 1];
    const between = next ? markdown.slice(block.end, next.start) : '';
    const shown = next && next.info === 'text' && between.trim() === '' ? next.body : undefined;
    examples.push({
      file,
      line: markdown.slice(0, block.start).split('\n').length,
      commands: block.body,
      shown,
    });
  });
  return examples;
}

/** Each shown line must appear in the output, in order; `…` matches anything. */
function missingLines(shown: string, output: string): string[] {
  const lines = output.split('\n');
  const missing: string[] = [];
  let at = 0;
  for (const expected of shown.split('\n').filter((l) => l.trim() !== '')) {
    const pattern = new RegExp(
      `^${expected
        .split('…')
        .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
    );
    const found = lines.findIndex((line, index) => index >= at && pattern.test(line));
    if (found === -1) missing.push(expected);
    else at = found + 1;
  }
  return missing;
}

describe('the docs', () => {
  it('link only to files and anchors that exist', async () => {
    const broken: string[] = [];
    for (const file of await markdownFiles()) {
      const markdown = await readFile(file, 'utf8');
      const prose = markdown.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
      for (const match of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = match[1] as string;
        if (/^[a-z]+:/i.test(target)) continue;
        const [path, anchor] = target.split('#') as [string, string | undefined];
        const resolved = path === '' ? file : resolve(dirname(file), path);
        if (!existsSync(resolved)) {
          broken.push(`${file.slice(ROOT.length + 1)}: ${target} (no such file)`);
          continue;
        }
        if (anchor && resolved.endsWith('.md') && !anchorsIn(await readFile(resolved, 'utf8')).has(anchor))
          broken.push(`${file.slice(ROOT.length + 1)}: ${target} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });

  describe('runnable examples', () => {
    let scratch: string;
    let shims: string;
    beforeAll(async () => {
      scratch = await mkdtemp(join(tmpdir(), 'walwatch-docs-'));
      // `npx walwatch` runs this checkout's command, wherever the example runs.
      shims = join(scratch, 'bin');
      await mkdir(shims);
      const npx = join(shims, 'npx');
      await writeFile(
        npx,
        `#!/usr/bin/env bash\nif [ "$1" = walwatch ]; then shift; exec "${process.execPath}" "${join(ROOT, 'bin', 'walwatch.js')}" "$@"; fi\nexec "$(PATH="${process.env.PATH}" command -v npx)" "$@"\n`,
      );
      await chmod(npx, 0o755);
    });
    afterAll(async () => {
      await rm(scratch, { recursive: true, force: true });
    });

    it('exist', async () => {
      const all = (
        await Promise.all((await markdownFiles()).map(async (f) => examplesIn(f, await readFile(f, 'utf8'))))
      ).flat();
      expect(all.length).toBeGreaterThanOrEqual(3);
    });

    it('run and print what the docs show', { timeout: 300_000 }, async () => {
      const failures: string[] = [];
      for (const file of await markdownFiles()) {
        const examples = examplesIn(file, await readFile(file, 'utf8'));
        if (examples.length === 0) continue;
        // The examples of one file run in order in one folder: a later one may use what an earlier one wrote.
        const cwd = await mkdtemp(join(scratch, 'run-'));
        for (const example of examples) {
          const result = spawnSync('bash', ['-c', example.commands], {
            cwd,
            encoding: 'utf8',
            env: { ...process.env, PATH: `${shims}:${process.env.PATH}`, NO_COLOR: '1', TZ: 'UTC' },
            timeout: 120_000,
          });
          const where = `${file.slice(ROOT.length + 1)}:${example.line}`;
          const output = `${result.stdout}${result.stderr}`;
          if (result.status === null || result.status >= 3)
            failures.push(`${where}: exited ${result.status}\n${output}`);
          if (example.shown) {
            const missing = missingLines(example.shown, output);
            if (missing.length > 0)
              failures.push(`${where}: output lacks\n  ${missing.join('\n  ')}\ngot:\n${output}`);
          }
        }
      }
      expect(failures).toEqual([]);
    });
  });

  describe('docs/cli.md and --help', () => {
    const walwatch = (args: string[]) =>
      spawnSync(process.execPath, [join(ROOT, 'bin', 'walwatch.js'), ...args], {
        cwd: ROOT,
        encoding: 'utf8',
      });
    const optionsIn = (text: string) => new Set([...text.matchAll(/--[a-z][a-z0-9-]*/g)].map((m) => m[0]));

    it('lists the commands walwatch --help lists', async () => {
      const cli = await readFile(join(DOCS, 'cli.md'), 'utf8');
      const help = walwatch(['--help']).stdout;
      const listed = [...help.matchAll(/^ {2}([a-z-]+) {2,}/gm)].map((m) => m[1] as string).sort();
      const documented = [...cli.matchAll(/^## `walwatch ([a-z-]+)`$/gm)].map((m) => m[1] as string).sort();
      expect(documented).toEqual(listed);
    });

    it('documents every option of each command, and only those', async () => {
      const cli = await readFile(join(DOCS, 'cli.md'), 'utf8');
      const sections = cli.split(/^## /m).filter((s) => s.startsWith('`walwatch '));
      expect(sections.length).toBeGreaterThan(0);
      for (const section of sections) {
        const command = /^`walwatch ([a-z-]+)`/.exec(section)?.[1] as string;
        const rows = [...section.matchAll(/^\| `(--[^|]*)\|/gm)].map((m) => m[1] as string).join(' ');
        const documented = optionsIn(rows);
        const help = walwatch([command, '--help']);
        expect(help.status, `${command} --help`).toBe(0);
        const optionLines = help.stdout
          .split('\n')
          .filter((line) => /^ {2}--/.test(line))
          .map((line) => line.split(/ {2,}/)[1] ?? '')
          .join(' ');
        const printed = optionsIn(optionLines);
        printed.delete('--help');
        expect([...documented].sort(), `options of walwatch ${command}`).toEqual([...printed].sort());
      }
    });
  });
});
