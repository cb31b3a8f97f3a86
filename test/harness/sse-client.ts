/**
 * A Server-Sent Events client on plain node:http (no EventSource), for
 * tests: it collects events and comment lines as they arrive, so a test can
 * poll them with waitFor. One connection per stream, closed by `close()`.
 */
import { request, type IncomingMessage } from 'node:http';

export interface SseEvent {
  /** `message` when the event names none. */
  event: string;
  id: string | undefined;
  data: string;
}

export class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  ended = false;
  private buffer = '';

  private constructor(readonly response: IncomingMessage, private readonly abort: () => void) {
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => this.take(chunk));
    response.on('end', () => (this.ended = true));
    response.on('error', () => (this.ended = true));
  }

  /** Opens the stream; resolves once the response headers arrived (rejects on a non-200). */
  static open(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = request(url, { headers: { accept: 'text/event-stream', ...headers }, agent: false }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`GET ${url}: status ${res.statusCode}`));
          return;
        }
        resolve(new SseClient(res, () => req.destroy()));
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** The `data` of every message event, parsed. */
  messages(): unknown[] {
    return this.events.filter((e) => e.event === 'message').map((e) => JSON.parse(e.data) as unknown);
  }

  close(): void {
    this.abort();
  }

  private take(chunk: string): void {
    this.buffer += chunk;
    for (let end = this.buffer.indexOf('\n\n'); end !== -1; end = this.buffer.indexOf('\n\n')) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      this.parse(block);
    }
  }

  private parse(block: string): void {
    const event: SseEvent = { event: 'message', id: undefined, data: '' };
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
      else if (line.startsWith('event: ')) event.event = line.slice('event: '.length);
      else if (line.startsWith('id: ')) event.id = line.slice('id: '.length);
      else if (line.startsWith('data: ')) data.push(line.slice('data: '.length));
    }
    if (data.length === 0) return;
    event.data = data.join('\n');
    this.events.push(event);
  }
}
