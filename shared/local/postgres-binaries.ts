/**
 * Finds PostgreSQL server binaries on this machine, by major version, for restore drills: the folders
 * Debian/Ubuntu (`/usr/lib/postgresql/<major>/bin`), RHEL (`/usr/pgsql-<major>/bin`) and Homebrew
 * (`/opt/homebrew/opt/postgresql@<major>/bin`) install to, and the folder of a `postgres` on `PATH`. A
 * folder counts when it holds executable `postgres` and `pg_ctl`; its major version is what `postgres
 * --version` prints.
 */
import { execFile } from 'node:child_process';
import { access, constants, readdir } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

/** Server binary folders by PostgreSQL major version (the first found of each wins). */
export type PostgresBinaries = ReadonlyMap<number, string>;

const run = promisify(execFile);

/**
 * Looks for PostgreSQL binaries. With `only`, that folder alone is examined (`serve --pg-bin`).
 *
 * @param env - for `PATH`
 */
export async function findPostgresBinaries(
  only?: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<PostgresBinaries> {
  const candidates = only === undefined ? await candidateFolders(env) : [only];
  const found = new Map<number, string>();
  for (const folder of candidates) {
    const major = await serverMajor(folder);
    if (major !== undefined && !found.has(major)) found.set(major, folder);
  }
  return found;
}

/** The major version of the server in `folder`, `undefined` when it holds no usable server. */
export async function serverMajor(folder: string): Promise<number | undefined> {
  try {
    await access(join(folder, 'pg_ctl'), constants.X_OK);
    await access(join(folder, 'postgres'), constants.X_OK);
    const { stdout } = await run(join(folder, 'postgres'), ['--version'], { timeout: 10_000 });
    // "postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)"; majors before 10 print 9.6.x.
    const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(stdout);
    if (!match) return undefined;
    const major = Number(match[1]);
    return major >= 10 ? major : undefined;
  } catch {
    return undefined;
  }
}

/** A one-line description: `15 (/usr/lib/postgresql/15/bin), 16 (…)`, or `none`. */
export function describePostgresBinaries(binaries: PostgresBinaries): string {
  if (binaries.size === 0) return 'none';
  return [...binaries]
    .sort(([a], [b]) => a - b)
    .map(([major, folder]) => `${major} (${folder})`)
    .join(', ');
}

async function candidateFolders(env: Readonly<Record<string, string | undefined>>): Promise<string[]> {
  const folders: string[] = [];
  const versioned = async (parent: string, pattern: RegExp, suffix: string[]): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(parent);
    } catch {
      return;
    }
    const majors = names
      .map((name) => ({ name, major: Number(pattern.exec(name)?.[1]) }))
      .filter((entry) => Number.isInteger(entry.major))
      .sort((a, b) => b.major - a.major);
    for (const entry of majors) folders.push(join(parent, entry.name, ...suffix));
  };
  await versioned('/usr/lib/postgresql', /^(\d+)$/, ['bin']);
  await versioned('/usr/', /^pgsql-(\d+)$/, ['bin']);
  await versioned('/opt/homebrew/opt', /^postgresql@(\d+)$/, ['bin']);
  for (const folder of (env.PATH ?? '').split(delimiter)) if (folder) folders.push(folder);
  return folders;
}
