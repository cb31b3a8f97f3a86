/**
 * Serves a fetch-style app (the hono facade) over node:http.
 *
 * `startHttpServer` resolves once the socket listens (port 0 picks a free
 * port, reported in the result) and rejects if it cannot bind. `close()` is
 * idempotent: it stops accepting, closes idle keep-alive connections at once
 * and, after `closeGraceMs`, any connection still busy, so a stop is bounded.
 * Request timeouts bound how long a slow client may hold a connection.
 * Beyond `maxConcurrentRequests` a request is shed with a 503 and
 * `Retry-After` before it reaches the app (admission.ts).
 *
 * @hono/node-server keeps its default of replacing the global Request and
 * Response with its lighter subclasses: hono middleware that rebuilds a
 * request (body-limit on a body of unknown length) needs them.
 */
import type { AddressInfo } from 'node:net';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createAdaptorServer, type HttpBindings } from '@hono/node-server';
import { Admission, DEFAULT_MAX_CONCURRENT_REQUESTS, isExempt, RETRY_AFTER_SECONDS } from './admission.js';
import type { ErrorBody } from './error-handler.js';

export interface FetchApp {
  fetch(request: Request, env: HttpBindings): Response | Promise<Response>;
}

export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** How long `close()` lets in-flight requests finish before cutting them, ms. @default 5000 */
  closeGraceMs?: number;
  /** Requests served at once; more are answered 503 with Retry-After (admission.ts). @default DEFAULT_MAX_CONCURRENT_REQUESTS */
  maxConcurrentRequests?: number;
  /** Called for each shed request, with its method and path (no query), e.g. to count it. */
  onShed?: (method: string, path: string) => void;
}

export interface RunningHttpServer {
  /** The port actually bound. */
  readonly port: number;
  close(): Promise<void>;
}

/** Time a client has to send its request headers, ms. */
const HEADERS_TIMEOUT_MS = 10_000;
/** Time a client has to send its whole request, ms. */
const REQUEST_TIMEOUT_MS = 30_000;
const DEFAULT_CLOSE_GRACE_MS = 5_000;

export async function startHttpServer(app: FetchApp, options: HttpServerOptions): Promise<RunningHttpServer> {
  const admission = new Admission(options.maxConcurrentRequests ?? DEFAULT_MAX_CONCURRENT_REQUESTS);
  const shedBody = JSON.stringify({
    error: { code: 'ERR_OVERLOADED', message: `the node is serving ${admission.maxConcurrent} requests at once; retry after ${RETRY_AFTER_SECONDS} s` },
  } satisfies ErrorBody);
  const admit = (listener: RequestListener): RequestListener => (req, res) => {
    if (isExempt(req.method, req.url)) return listener(req, res);
    if (!admission.tryAcquire()) return shed(req, res, shedBody, options.onShed);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      admission.release();
    };
    res.once('finish', release);
    res.once('close', release);
    listener(req, res);
  };
  const server = createAdaptorServer({
    fetch: (request, env) => app.fetch(request, env as HttpBindings),
    createServer: ((serverOptions: ServerOptions, listener: RequestListener) => createServer(serverOptions, admit(listener))) as typeof createServer,
  }) as Server;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(options.port, options.host);
  });

  const port = (server.address() as AddressInfo).port;
  const graceMs = options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;
  let closing: Promise<void> | undefined;

  return {
    port,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        const cutoff = setTimeout(() => server.closeAllConnections(), graceMs);
        cutoff.unref();
        server.close((err) => {
          clearTimeout(cutoff);
          if (err && (err as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING') reject(err);
          else resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

/** The fast answer to a shed request: nothing of the app runs. */
function shed(req: IncomingMessage, res: ServerResponse, body: string, onShed: HttpServerOptions['onShed']): void {
  res.writeHead(503, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    'Retry-After': String(RETRY_AFTER_SECONDS),
    'Cache-Control': 'no-store',
  });
  res.end(body);
  onShed?.(req.method ?? 'GET', (req.url ?? '/').split('?', 1)[0]!);
}
