import { createHttpApp } from '../../../lib/http/app.js';
import { createMetrics } from '../../../lib/metrics.js';
import { FakeNode, silentLog } from './fake-node.js';

export function makeApp(options: { apiToken?: string; maxBodyBytes?: number; node?: FakeNode } = {}) {
  const node = options.node ?? new FakeNode();
  const metrics = createMetrics(() => node.stats());
  const app = createHttpApp(node, { apiToken: options.apiToken, metrics, log: silentLog, maxBodyBytes: options.maxBodyBytes });
  return { app, node, metrics };
}

export function jsonInit(method: string, body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { method, headers: { 'Content-Type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) };
}

export interface ErrorJson {
  error: { code: string; message: string };
}

export async function errorOf(res: Response): Promise<ErrorJson['error']> {
  assertJson(res);
  const body = (await res.json()) as ErrorJson;
  if (typeof body?.error?.code !== 'string' || typeof body.error.message !== 'string') throw new Error(`not an error body: ${JSON.stringify(body)}`);
  return body.error;
}

export function assertJson(res: Response): void {
  const type = res.headers.get('content-type') ?? '';
  if (!type.startsWith('application/json')) throw new Error(`expected JSON, got ${type || 'no content type'} (status ${res.status})`);
}
