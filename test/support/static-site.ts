/**
 * A plain static host for a built dashboard site on its own origin (another port), as S3 behind CloudFront
 * or any web server would serve it: files by name, 404 otherwise.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, extname, join } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
};

/** A running static host. */
export interface StaticSite {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Serves the files of `dir` on 127.0.0.1 and a free port; `/` is `index`. */
export async function serveDirectory(dir: string, index = 'index.html'): Promise<StaticSite> {
  const host = createServer((request, response) => {
    const name = basename(new URL(request.url ?? '/', 'http://host').pathname) || index;
    readFile(join(dir, name)).then(
      (body) => {
        response.writeHead(200, { 'content-type': TYPES[extname(name)] ?? 'application/octet-stream' });
        response.end(body);
      },
      () => {
        response.writeHead(404);
        response.end();
      },
    );
  });
  await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
  const { port } = host.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () => {
      host.closeAllConnections();
      return new Promise((resolve) => host.close(() => resolve()));
    },
  };
}
