/**
 * Properties of DNS discovery's packet path: whatever bytes arrive (random,
 * or valid responses mutated), reading them and stepping the poll never
 * throws and always ends in a verdict; valid responses give exactly the
 * candidates a naive reading expects; and the shrink rule never removes a
 * known candidate on anything but a complete answer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import type { Candidate } from '../../discovery/discovery.js';
import { DnsLookup, nextCandidates, type LookupVerdict, type QueryOutcome } from '../../discovery/dns-answer.js';
import { readResponse, type DnsQuestion } from '../../discovery/dns-message.js';

const NAME = '_troupe._tcp.test.local';
const SRV_Q: DnsQuestion = { name: NAME, type: 'SRV' };
const KINDS = new Set(['stray', 'truncated', 'malformed', 'message']);

/** Runs a lookup answering every question with `answer(question)`; throws only if it never finishes. */
function drive(answer: (question: DnsQuestion) => QueryOutcome): LookupVerdict {
  const lookup = new DnsLookup({ name: NAME, fallbackPort: 9100 });
  lookup.step({ type: 'start' });
  for (let round = 0; round < 2000; round++) {
    const ready = lookup.ready();
    lookup.advance(ready);
    if (ready.verdict) return ready.verdict;
    assert.ok(ready.queries.length > 0, 'a lookup with nothing to ask has a verdict');
    for (const question of ready.queries) lookup.step({ type: 'outcome', question, outcome: answer(question) });
  }
  throw new Error('lookup did not finish');
}

/** The whole path for bytes that arrived for `question` with id `id`: read, then step the lookup with them. */
function readAndInterpret(bytes: Uint8Array, id: number): void {
  const read = readResponse(bytes, id, SRV_Q);
  assert.ok(KINDS.has(read.kind));
  const outcome: QueryOutcome = read.kind === 'message' ? { ok: true, message: read.message, server: 'fuzz', transport: 'udp' } : { ok: false, reason: read.kind === 'truncated' ? 'truncated' : 'malformed', detail: read.kind };
  const verdict = drive(() => outcome);
  if (verdict.ok) assert.ok(verdict.candidates.length > 0);
  else assert.equal(typeof verdict.reason, 'string');
}

const label = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,14}$/);
const host = fc.array(label, { minLength: 1, maxLength: 3 }).map((labels) => `${labels.join('.')}.test.local`);
const srvRecord = fc.record({ target: host, port: fc.integer({ min: 1, max: 65535 }), priority: fc.integer({ min: 0, max: 65535 }), weight: fc.integer({ min: 0, max: 65535 }) });
/** SRV records, A records for a random subset of their targets (some twice) plus unrelated names, and an id. */
const zone = fc.array(srvRecord, { maxLength: 12 }).chain((srv) =>
  fc.record({
    srv: fc.constant(srv),
    hosts: fc.tuple(
      fc.array(fc.tuple(srv.length > 0 ? fc.constantFrom(...srv.map((s) => s.target)) : host, fc.ipV4()), { maxLength: 16 }),
      fc.array(fc.tuple(host, fc.ipV4()), { maxLength: 3 }),
    ).map(([related, unrelated]) => [...related, ...unrelated]),
    id: fc.integer({ min: 0, max: 65535 }),
  }),
);
type Zone = typeof zone extends fc.Arbitrary<infer T> ? T : never;

function encodeZone(z: Zone): Buffer {
  return dnsPacket.encode({
    type: 'response',
    id: z.id,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
    questions: [{ name: NAME, type: 'SRV', class: 'IN' }],
    answers: z.srv.map((s) => ({ type: 'SRV' as const, name: NAME, ttl: 5, class: 'IN' as const, data: s })),
    additionals: z.hosts.map(([name, address]) => ({ type: 'A' as const, name, ttl: 5, class: 'IN' as const, data: address })),
  });
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

/** Applies mutations past the id (the first two bytes), so the reader takes the packet as ours and goes deep. */
function mutate(bytes: Buffer, mutations: Mutation[]): Buffer {
  let out = Buffer.from(bytes);
  for (const m of mutations) {
    if (out.length <= 2) break;
    const at = 2 + (m.at % (out.length - 2));
    if (m.kind === 'flip') out[at] = m.value;
    else if (m.kind === 'cut') out = out.subarray(0, at);
    else out = Buffer.concat([out.subarray(0, at), Buffer.from(m.bytes), out.subarray(at)]);
  }
  return out;
}

describe('DNS packet path (fast-check)', () => {
  it('arbitrary bytes never throw out of the reader or the poll', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 700 }), fc.integer({ min: 0, max: 65535 }), (bytes, id) => readAndInterpret(bytes, id)),
      { numRuns: 2000 },
    );
  });

  it('arbitrary bodies behind a header that matches our id never throw', () => {
    const header = fc.record({ id: fc.integer({ min: 0, max: 65535 }), flags: fc.integer({ min: 0, max: 0xffff }), counts: fc.array(fc.integer({ min: 0, max: 65535 }), { minLength: 4, maxLength: 4 }) });
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 600 }), ({ id, flags, counts }, body) => {
        const head = Buffer.alloc(12);
        head.writeUInt16BE(id, 0);
        head.writeUInt16BE(flags | 0x8000, 2);
        counts.forEach((n, i) => head.writeUInt16BE(n, 4 + 2 * i));
        readAndInterpret(Buffer.concat([head, body]), id);
      }),
      { numRuns: 2000 },
    );
  });

  it('mutated valid responses never throw and end in a verdict', () => {
    fc.assert(
      fc.property(zone, fc.array(mutation, { minLength: 1, maxLength: 6 }), (z, mutations) => readAndInterpret(mutate(encodeZone(z), mutations), z.id)),
      { numRuns: 2000 },
    );
  });

  it('a valid response gives the candidates a naive reading expects', () => {
    fc.assert(
      fc.property(zone, (z) => {
        const read = readResponse(encodeZone(z), z.id, SRV_Q);
        assert.equal(read.kind, 'message');
        if (read.kind !== 'message') return;
        // Naive: every (target, port) pair times every A address given for that target.
        const expected = new Set<string>();
        for (const s of z.srv) for (const [name, address] of z.hosts) if (name === s.target) expected.add(`${address}:${s.port}`);
        const verdict = drive((question) => {
          const asked = question.name;
          const bytes = dnsPacket.encode({ type: 'response', id: 1, flags: 0, questions: [{ name: asked, type: question.type }], answers: [] });
          const reread = readResponse(bytes, 1, question);
          return question.type === 'SRV' ? { ok: true, message: read.message, server: 'prop', transport: 'udp' } : reread.kind === 'message' ? { ok: true, message: reread.message, server: 'prop', transport: 'udp' } : { ok: false, reason: 'malformed', detail: '' };
        });
        if (expected.size === 0) assert.ok(!verdict.ok);
        else {
          assert.ok(verdict.ok);
          assert.deepEqual(new Set(verdict.candidates.map((c) => c.address)), expected);
          // Targets without an A record get NOERROR/no data here: the answer is partial, never complete without them.
          assert.equal(verdict.complete, z.srv.every((s) => z.hosts.some(([name]) => name === s.target)));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a member the SRV answer still lists is never removed, whatever its address questions answer', () => {
    const denial = fc.constantFrom('NXDOMAIN' as const, 'nodata' as const, 'SERVFAIL' as const, 'timeout' as const, 'address' as const);
    fc.assert(
      fc.property(zone, fc.func(denial), fc.func(fc.boolean()), (z, answerFor, keepAdditional) => {
        const srvAnswer = (hosts: Zone['hosts']) => {
          const read = readResponse(encodeZone({ ...z, hosts }), z.id, SRV_Q);
          assert.equal(read.kind, 'message');
          return read.kind === 'message' ? read.message : null;
        };
        const full = srvAnswer(z.hosts)!;
        const first = drive(() => ({ ok: true, message: full, server: 'prop', transport: 'udp' }));
        const previous = first.ok ? first.candidates : [];
        // The same SRV records; the A records of some targets (whole RRsets) left out of the additional section, and the questions for them denied or failed.
        const thinned = srvAnswer(z.hosts.filter(([name]) => keepAdditional(name)))!;
        const second = drive((question) => {
          if (question.type === 'SRV') return { ok: true, message: thinned, server: 'prop', transport: 'udp' };
          const how = answerFor(question.name, question.type);
          if (how === 'timeout') return { ok: false, reason: 'timeout', detail: '' };
          const answers = how === 'address' && question.type === 'A' ? z.hosts.filter(([name]) => name === question.name).map(([name, address]) => ({ type: 'A' as const, name, ttl: 5, class: 'IN' as const, data: address })) : [];
          const rcode = how === 'NXDOMAIN' ? 3 : how === 'SERVFAIL' ? 2 : 0;
          const read = readResponse(dnsPacket.encode({ type: 'response', id: 1, flags: rcode, questions: [{ name: question.name, type: question.type }], answers }), 1, question);
          return read.kind === 'message' ? { ok: true, message: read.message, server: 'prop', transport: 'udp' } : { ok: false, reason: 'malformed', detail: '' };
        });
        const next = new Set(nextCandidates(previous, second).map((c) => c.address));
        for (const c of previous) assert.ok(next.has(c.address), `${c.address} (${c.name}) was removed though its SRV record is still listed`);
      }),
      { numRuns: 500 },
    );
  });

  it('only a complete answer removes a known candidate', () => {
    const candidate = fc.record({ address: fc.tuple(fc.ipV4(), fc.integer({ min: 1, max: 65535 })).map(([ip, port]) => `${ip}:${port}`), source: fc.constant('dns') }) as fc.Arbitrary<Candidate>;
    const verdict = fc.oneof(
      fc.record({ complete: fc.boolean(), candidates: fc.array(candidate, { maxLength: 6 }) }).map(({ complete, candidates }): LookupVerdict => ({ ok: true, name: NAME, complete, via: 'srv', candidates, records: [], problems: [], usedTcp: false })),
      fc.constantFrom('timeout' as const, 'nxdomain' as const, 'truncated' as const, 'malformed' as const).map((reason): LookupVerdict => ({ ok: false, reason, detail: reason, records: [], usedTcp: false })),
    );
    fc.assert(
      fc.property(fc.array(candidate, { maxLength: 6 }), verdict, (previous, v) => {
        const next = new Set(nextCandidates(previous, v).map((c) => c.address));
        const removed = previous.filter((c) => !next.has(c.address));
        if (removed.length > 0) assert.ok(v.ok && v.complete && v.candidates.length > 0, 'only a complete, non-empty answer shrinks the set');
        if (v.ok) for (const c of v.candidates) assert.ok(next.has(c.address), 'an answer never loses what it found');
      }),
      { numRuns: 1000 },
    );
  });
});
