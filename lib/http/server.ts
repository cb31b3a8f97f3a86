/**
 * Serves a fetch-style app (the hono facade) over node:http.
 *
 * `startHttpServer` resolves once the socket listens (port 0 picks a free
 * port, reported in the result) and rejects if it cannot bind. `close()` is
 * idempotent: it stops accepting, closes idle keep-alive connections at once
 * and, after `closeGraceMs`, any connection still busy, so a stop is bounded.
 * Request timeouts bound how long a slow client may hold a connection.
 *
 * @hono/node-server keeps its default of replacing the global Request and
 * Response with its lighter subclasses: hono middleware that rebuilds a
 * request (body-limit on a body of unknown length) needs them.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createAdaptorServer, type HttpBindings } from '@hono/node-server';

export interface FetchApp {
  fetch(request: Request, env: HttpBindings): Response | Promise<Response>;
}

export interface HttpServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** How long `close()` lets in-flight requests finish before cutting them, ms. @default 5000 */
  closeGraceMs?: number;
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
  const server = createAdaptorServer({ fetch: (request, env) => app.fetch(request, env as HttpBindings) }) as Server;
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
