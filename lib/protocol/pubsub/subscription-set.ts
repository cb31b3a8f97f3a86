/**
 * A set of (topic, subscriber) pairs, grouped by topic, with the two counts
 * the limits are about: topics and pairs. Used for a node's own
 * subscriptions, for its view of each peer's, and for a sync being
 * assembled. Pure data structure.
 */

export interface SubscriptionLimits {
  maxTopics: number;
  maxSubscriptions: number;
}

export type LimitProblem = 'topics' | 'subscriptions';

export class SubscriptionSet {
  private readonly byTopic = new Map<string, Set<string>>();
  private pairs = 0;

  /** (topic, subscriber) pairs held. */
  get size(): number {
    return this.pairs;
  }

  get topicCount(): number {
    return this.byTopic.size;
  }

  subscribersOf(topic: string): ReadonlySet<string> | undefined {
    return this.byTopic.get(topic);
  }

  topics(): IterableIterator<string> {
    return this.byTopic.keys();
  }

  entries(): IterableIterator<[string, ReadonlySet<string>]> {
    return this.byTopic.entries();
  }

  /** Which limit adding the pair would break, or null (a pair already held breaks none). */
  limitProblem(topic: string, subscriber: string, limits: SubscriptionLimits): LimitProblem | null {
    const subscribers = this.byTopic.get(topic);
    if (subscribers?.has(subscriber)) return null;
    if (subscribers === undefined && this.byTopic.size >= limits.maxTopics) return 'topics';
    return this.pairs >= limits.maxSubscriptions ? 'subscriptions' : null;
  }

  /** Adds the pair; false when it was already held. */
  add(topic: string, subscriber: string): boolean {
    let subscribers = this.byTopic.get(topic);
    if (subscribers === undefined) this.byTopic.set(topic, (subscribers = new Set()));
    if (subscribers.has(subscriber)) return false;
    subscribers.add(subscriber);
    this.pairs++;
    return true;
  }

  /** Removes the pair; false when it was not held. */
  remove(topic: string, subscriber: string): boolean {
    const subscribers = this.byTopic.get(topic);
    if (subscribers === undefined || !subscribers.delete(subscriber)) return false;
    if (subscribers.size === 0) this.byTopic.delete(topic);
    this.pairs--;
    return true;
  }

  /** The topics `subscriber` is in (a scan of every topic: used when a subscriber is gone, not per message). */
  topicsOf(subscriber: string): string[] {
    return [...this.byTopic].filter(([, subscribers]) => subscribers.has(subscriber)).map(([topic]) => topic);
  }

  /**
   * The pairs of the topics `include` accepts, as [topic, subscribers] lists of at most `perPart` pairs
   * each (a topic may be split between two lists); always at least one list, empty when nothing is held.
   */
  toParts(perPart: number, include: (topic: string) => boolean): [string, string[]][][] {
    const parts: [string, string[]][][] = [[]];
    let inPart = 0;
    for (const [topic, subscribers] of this.byTopic) {
      if (!include(topic)) continue;
      let chunk: string[] = [];
      for (const subscriber of subscribers) {
        if (inPart === perPart) {
          if (chunk.length > 0) parts[parts.length - 1]!.push([topic, chunk]);
          parts.push([]);
          chunk = [];
          inPart = 0;
        }
        chunk.push(subscriber);
        inPart++;
      }
      if (chunk.length > 0) parts[parts.length - 1]!.push([topic, chunk]);
    }
    return parts;
  }
}
