/**
 * HTTP requests sent as written: `fetch` folds `/a/%2e%2e` into `/` and sets `Host` itself, so requests a
 * hostile client could send go through `node:http` with the exact target and headers.
 */
import { request } from 'node:http';

/** A response with its body as text. */
export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

/** Sends one request to `base` (`http://127.0.0.1:PORT`) with the exact `path` and headers. */
export function rawRequest(
  base: string,
  options: {
    readonly method?: string;
    readonly path: string;
    readonly headers?: Record<string, string>;
    readonly body?: string;
  },
): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: { host: url.host, ...options.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * Streams an endless body (`chunkBytes` a write, as fast as the server takes it) until the server answers;
 * resolves with the status and how many bytes were sent by then. The request is destroyed afterwards.
 */
export function streamUntilAnswered(
  base: string,
  options: {
    readonly path: string;
    readonly headers?: Record<string, string>;
    readonly chunkBytes?: number;
    /** Declares this many bytes in `content-length` instead of sending the body chunked. */
    readonly declaredBytes?: number;
  },
): Promise<{ status: number; sentBytes: number; text: string }> {
  const url = new URL(base);
  const chunk = Buffer.alloc(options.chunkBytes ?? 64 * 1024, 0x20);
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = request({
      host: url.hostname,
      port: url.port,
      method: 'POST',
      path: options.path,
      headers: {
        host: url.host,
        ...(options.declaredBytes === undefined
          ? { 'transfer-encoding': 'chunked' }
          : { 'content-length': String(options.declaredBytes) }),
        ...options.headers,
      },
    });
    const pump = (): void => {
      while (!answered && req.write(chunk)) sent += chunk.length;
      if (!answered) {
        sent += chunk.length;
        req.once('drain', pump);
      }
    };
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (part: Buffer) => chunks.push(part));
      res.on('end', () => {
        req.destroy();
        resolve({
          status: res.statusCode ?? 0,
          sentBytes: sent,
          text: Buffer.concat(chunks).toString('utf8'),
        });
      });
    });
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    pump();
  });
}

/** Sends `request` (the bytes of a whole HTTP request) on a new connection; resolves with the status line's code and the body. */
export async function socketRequest(
  base: string,
  requestText: string,
): Promise<{ status: number; body: string }> {
  const { connect } = await import('node:net');
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let data = '';
    socket.on('data', (chunk) => {
      data += chunk.toString('utf8');
    });
    socket.on('end', () => {
      const [head = '', ...body] = data.split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.\d (\d{3})/.exec(head)?.[1] ?? 0), body: body.join('\r\n\r\n') });
    });
    socket.on('error', reject);
    socket.end(requestText);
  });
}
