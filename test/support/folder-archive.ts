/**
 * Generated archives written into a folder used as a bucket (the local monitor's `--dir`): segment files of
 * their listed size, sentinels with their JSON. Only archives without timeline switches: their history
 * files would have to be lz4 frames.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { GeneratedObject } from './archive-generator.js';

/** Writes one generated object under `root`, at its key. */
export async function writeGeneratedObject(root: string, object: GeneratedObject): Promise<void> {
  const path = join(root, ...object.key.split('/'));
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, object.content ?? Buffer.alloc(object.size ?? 0, 0x5a));
}

/** Writes every object, in order. */
export async function writeGeneratedObjects(
  root: string,
  objects: readonly GeneratedObject[],
): Promise<void> {
  for (const object of objects) await writeGeneratedObject(root, object);
}
