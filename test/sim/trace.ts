/**
 * The trace of a simulation run: a rolling hash of every step (so two runs
 * of one seed can be compared bit-for-bit) and the last lines in full (for
 * the failure report).
 */

export class Trace {
  private h1 = 0x811c9dc5;
  private h2 = 0x01000193;
  private readonly tail: string[] = [];
  private next = 0;
  lines = 0;

  constructor(private readonly tailSize = 60) {}

  add(line: string): void {
    let h1 = this.h1;
    let h2 = this.h2;
    for (let i = 0; i < line.length; i++) {
      const c = line.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
      h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
    }
    h1 = Math.imul(h1 ^ 10, 0x01000193) >>> 0;
    this.h1 = h1;
    this.h2 = h2;
    this.lines++;
    if (this.tail.length < this.tailSize) this.tail.push(line);
    else this.tail[this.next] = line;
    this.next = (this.next + 1) % this.tailSize;
  }

  /** Hex digest of everything traced so far. */
  hash(): string {
    return this.h1.toString(16).padStart(8, '0') + this.h2.toString(16).padStart(8, '0');
  }

  /** The last lines, oldest first. */
  last(): string[] {
    if (this.tail.length < this.tailSize) return [...this.tail];
    return [...this.tail.slice(this.next), ...this.tail.slice(0, this.next)];
  }
}
