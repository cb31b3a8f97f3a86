/**
 * DNS discovery's pure parts, from tables: the response reader (matching,
 * truncation, malformed bodies), one poll (`DnsLookup`) scripted against
 * real encoded responses, and the shrink rule (`nextCandidates`).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import type { Candidate } from '../../../discovery/discovery.js';
import { DnsLookup, nextCandidates, questionKey, sameCandidates, type LookupVerdict, type QueryOutcome } from '../../../discovery/dns-answer.js';
import { EDNS_UDP_PAYLOAD_BYTES, encodeQuery, frameForTcp, normalizeName, readResponse, takeTcpFrame, type DnsMessage, type DnsQuestion } from '../../../discovery/dns-message.js';

// ------------------------------------------------------------------ fixtures

const NAME = '_troupe._tcp.test.local';
const SERVER = '127.0.0.1:53';

const RCODE_NUMBERS: Record<string, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };

interface ResponseSpec {
  id?: number;
  question: DnsQuestion;
  rcode?: keyof typeof RCODE_NUMBERS;
  truncated?: boolean;
  answers?: dnsPacket.Answer[];
  additionals?: dnsPacket.Answer[];
}

/** The wire bytes of a response. */
function responseBytes(spec: ResponseSpec): Buffer {
  const flags = dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (spec.truncated ? dnsPacket.TRUNCATED_RESPONSE : 0) | RCODE_NUMBERS[spec.rcode ?? 'NOERROR']!;
  return dnsPacket.encode({
    type: 'response',
    id: spec.id ?? 1,
    flags,
    questions: [{ name: spec.question.name, type: spec.question.type, class: 'IN' }],
    answers: spec.answers ?? [],
    additionals: spec.additionals ?? [],
  });
}

/** A response read back as `readResponse` would hand it to the lookup. */
function message(spec: ResponseSpec): DnsMessage {
  const verdict = readResponse(responseBytes(spec), spec.id ?? 1, spec.question);
  if (verdict.kind !== 'message') throw new Error(`fixture is not a message: ${JSON.stringify(verdict)}`);
  return verdict.message;
}

function ok(spec: ResponseSpec, transport: 'udp' | 'tcp' = 'udp'): QueryOutcome {
  return { ok: true, message: message(spec), server: SERVER, transport };
}

const srv = (target: string, port: number, name = NAME, ttl = 30): dnsPacket.Answer => ({ type: 'SRV', name, ttl, class: 'IN', data: { target, port, priority: 10, weight: 5 } });
const a = (name: string, address: string, ttl = 30): dnsPacket.Answer => ({ type: 'A', name, ttl, class: 'IN', data: address });
const aaaa = (name: string, address: string, ttl = 30): dnsPacket.Answer => ({ type: 'AAAA', name, ttl, class: 'IN', data: address });
const cname = (name: string, target: string, ttl = 30): dnsPacket.Answer => ({ type: 'CNAME', name, ttl, class: 'IN', data: target });

/** `TYPE name` → the outcome, or a builder taking the question. */
type AnswerTable = Record<string, QueryOutcome | ((question: DnsQuestion) => QueryOutcome)>;

/**
 * Runs a lookup to its verdict, answering each question from `table`
 * (a question missing from the table fails the test). Returns the verdict and
 * the questions in the order they were asked.
 */
function runLookup(table: AnswerTable, name = NAME, fallbackPort = 9100, names?: string[]): { verdict: LookupVerdict; asked: string[] } {
  const lookup = new DnsLookup({ name, fallbackPort, ...(names ? { names } : {}) });
  const asked: string[] = [];
  lookup.step({ type: 'start' });
  for (let round = 0; round < 10_000; round++) {
    const ready = lookup.ready();
    lookup.advance(ready);
    if (ready.verdict) return { verdict: ready.verdict, asked };
    if (ready.queries.length === 0) throw new Error(`lookup stalled after ${asked.join(', ')}`);
    for (const question of ready.queries) {
      const key = questionKey(question);
      asked.push(key);
      const entry = table[key];
      if (entry === undefined) throw new Error(`unexpected question ${key}`);
      lookup.step({ type: 'outcome', question, outcome: typeof entry === 'function' ? entry(question) : entry });
    }
  }
  throw new Error('lookup did not finish in 10000 rounds');
}

const fail = (reason: Extract<QueryOutcome, { ok: false }>['reason'], detail = reason): QueryOutcome => ({ ok: false, reason, detail });
const SRV_Q: DnsQuestion = { name: NAME, type: 'SRV' };
const addresses = (verdict: LookupVerdict) => (verdict.ok ? verdict.candidates.map((c) => c.address) : []);

// ------------------------------------------------------------ the reader

describe('encodeQuery', () => {
  it('asks one recursive question with an EDNS(0) payload size', () => {
    const decoded = dnsPacket.decode(encodeQuery(4242, SRV_Q));
    assert.equal(decoded.id, 4242);
    assert.equal(decoded.type, 'query');
    assert.equal(decoded.flag_rd, true);
    assert.deepEqual(decoded.questions, [{ name: NAME, type: 'SRV', class: 'IN' }]);
    const opt = decoded.additionals?.find((r) => r.type === 'OPT') as dnsPacket.OptAnswer | undefined;
    assert.equal(opt?.udpPayloadSize, EDNS_UDP_PAYLOAD_BYTES);
  });

  it('leaves the OPT record out when asked to (a server without EDNS)', () => {
    const decoded = dnsPacket.decode(encodeQuery(4242, SRV_Q, { edns: false }));
    assert.deepEqual(decoded.additionals ?? [], []);
    assert.deepEqual(decoded.questions, [{ name: NAME, type: 'SRV', class: 'IN' }]);
  });
});

describe('readResponse', () => {
  const good = responseBytes({ id: 7, question: SRV_Q, answers: [srv('n1.test.local', 9101)] });
  const rows: Array<[string, Uint8Array, number, DnsQuestion, string]> = [
    ['shorter than a header', Buffer.alloc(11), 7, SRV_Q, 'stray'],
    ['empty', Buffer.alloc(0), 7, SRV_Q, 'stray'],
    ['a query, not a response', encodeQuery(7, SRV_Q), 7, SRV_Q, 'stray'],
    ['another id', good, 8, SRV_Q, 'stray'],
    ['another question name', good, 7, { name: 'other.test.local', type: 'SRV' }, 'stray'],
    ['another question type', good, 7, { name: NAME, type: 'A' }, 'stray'],
    ['the TC bit', responseBytes({ id: 7, question: SRV_Q, truncated: true, answers: [srv('n1.test.local', 9101)] }), 7, SRV_Q, 'truncated'],
    ['the TC bit and a body cut short', responseBytes({ id: 7, question: SRV_Q, truncated: true, answers: [srv('n1.test.local', 9101)] }).subarray(0, 40), 7, SRV_Q, 'truncated'],
    ['our id and a body cut short', good.subarray(0, good.length - 5), 7, SRV_Q, 'malformed'],
    ['an SRV record with port 0', responseBytes({ id: 7, question: SRV_Q, answers: [srv('n1.test.local', 0)] }), 7, SRV_Q, 'malformed'],
    ['a well-formed answer', good, 7, SRV_Q, 'message'],
    ['the question in upper case with a trailing dot', good, 7, { name: `${NAME.toUpperCase()}.`, type: 'SRV' }, 'message'],
  ];
  for (const [what, bytes, id, question, kind] of rows) {
    it(`${what} → ${kind}`, () => assert.equal(readResponse(bytes, id, question).kind, kind));
  }

  it('names the response code and normalizes names', () => {
    const read = readResponse(responseBytes({ id: 3, question: SRV_Q, rcode: 'SERVFAIL' }), 3, SRV_Q);
    assert.equal(read.kind === 'message' && read.message.rcode, 'SERVFAIL');
    const m = message({ question: SRV_Q, answers: [srv('N1.Test.Local.', 9101, NAME.toUpperCase())] });
    assert.deepEqual(m.answers[0], { type: 'SRV', name: NAME, ttl: 30, priority: 10, weight: 5, port: 9101, target: 'n1.test.local' });
  });

  it('keeps records of types it does not use as `other`, and drops the OPT pseudo-record', () => {
    const bytes = dnsPacket.encode({
      type: 'response', id: 1, flags: 0,
      questions: [{ name: NAME, type: 'SRV' }],
      answers: [{ type: 'TXT', name: NAME, ttl: 5, data: 'hello' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
    });
    const read = readResponse(bytes, 1, SRV_Q);
    assert.equal(read.kind, 'message');
    if (read.kind === 'message') {
      assert.deepEqual(read.message.answers, [{ type: 'other', name: NAME, ttl: 5, rrtype: 'TXT' }]);
      assert.deepEqual(read.message.additionals, []);
    }
  });

  it('normalizeName lowercases and strips the trailing dot, keeping the root', () => {
    assert.equal(normalizeName('Foo.Example.'), 'foo.example');
    assert.equal(normalizeName('.'), '.');
    assert.equal(normalizeName(''), '.');
  });
});

describe('TCP framing', () => {
  it('prefixes a 2-byte length and takes whole frames only', () => {
    const framed = frameForTcp(Buffer.from('hello'));
    assert.deepEqual([...framed.subarray(0, 2)], [0, 5]);
    assert.equal(takeTcpFrame(framed.subarray(0, 1)), null);
    assert.equal(takeTcpFrame(framed.subarray(0, 6)), null);
    const taken = takeTcpFrame(Buffer.concat([framed, Buffer.from([9])]));
    assert.equal(taken?.frame.toString(), 'hello');
    assert.deepEqual([...(taken?.rest ?? [])], [9]);
  });
});

// ------------------------------------------------------------ one poll

describe('DnsLookup: SRV', () => {
  it('uses the additional section and asks nothing more', () => {
    const { verdict, asked } = runLookup({
      'SRV _troupe._tcp.test.local': ok({ question: SRV_Q, answers: [srv('n1.test.local', 9101), srv('n2.test.local', 9102)], additionals: [a('n1.test.local', '10.0.0.1'), a('n2.test.local', '10.0.0.2')] }),
    });
    assert.deepEqual(asked, ['SRV _troupe._tcp.test.local']);
    assert.ok(verdict.ok && verdict.complete && verdict.via === 'srv' && !verdict.usedTcp);
    assert.deepEqual(verdict.candidates, [
      { address: '10.0.0.1:9101', name: 'n1.test.local', source: 'dns' },
      { address: '10.0.0.2:9102', name: 'n2.test.local', source: 'dns' },
    ]);
    assert.deepEqual(verdict.records.map((r) => `${r.type} ${r.name} ${r.ttl} ${r.data}`), [
      'SRV _troupe._tcp.test.local 30 10 5 9101 n1.test.local',
      'SRV _troupe._tcp.test.local 30 10 5 9102 n2.test.local',
      'A n1.test.local 30 10.0.0.1',
      'A n2.test.local 30 10.0.0.2',
    ]);
  });

  it('resolves targets without additionals: A, then AAAA when there is no A', () => {
    const { verdict, asked } = runLookup({
      'SRV _troupe._tcp.test.local': ok({ question: SRV_Q, answers: [srv('n1.test.local', 9101), srv('n2.test.local', 9102)] }),
      'A n1.test.local': ok({ question: { name: 'n1.test.local', type: 'A' }, answers: [a('n1.test.local', '10.0.0.1')] }),
      'A n2.test.local': ok({ question: { name: 'n2.test.local', type: 'A' } }),
      'AAAA n2.test.local': ok({ question: { name: 'n2.test.local', type: 'AAAA' }, answers: [aaaa('n2.test.local', 'fd00::2')] }),
    });
    assert.deepEqual(asked, ['SRV _troupe._tcp.test.local', 'A n1.test.local', 'A n2.test.local', 'AAAA n2.test.local']);
    assert.ok(verdict.ok && verdict.complete);
    assert.deepEqual(addresses(verdict), ['10.0.0.1:9101', '[fd00::2]:9102']);
  });

  it('resolves only the targets the additional section leaves out', () => {
    const { asked, verdict } = runLookup({
      'SRV _troupe._tcp.test.local': ok({ question: SRV_Q, answers: [srv('n1.test.local', 9101), srv('n2.test.local', 9102)], additionals: [a('n1.test.local', '10.0.0.1')] }),
      'A n2.test.local': ok({ question: { name: 'n2.test.local', type: 'A' }, answers: [a('n2.test.local', '10.0.0.2')] }),
    });
    assert.deepEqual(asked, ['SRV _troupe._tcp.test.local', 'A n2.test.local']);
    assert.deepEqual(addresses(verdict), ['10.0.0.1:9101', '10.0.0.2:9102']);
  });

  it('collapses duplicate records and gives one candidate per address whatever the record order', () => {
    const answers = [srv('n1.test.local', 9101), srv('n1.test.local', 9101), srv('alias.test.local', 9101)];
    const additionals = [a('n1.test.local', '10.0.0.1'), a('n1.test.local', '10.0.0.1'), a('alias.test.local', '10.0.0.1')];
    const forward = runLookup({ 'SRV _troupe._tcp.test.local': ok({ question: SRV_Q, answers, additionals }) }).verdict;
    const backward = runLookup({ 'SRV _troupe._tcp.test.local': ok({ question: SRV_Q, answers: [...answers].reverse(), additionals: [...additionals].reverse() }) }).verdict;
    assert.ok(forward.ok && backward.ok);
    assert.deepEqual(forward.candidates, [{ address: '10.0.0.1:9101', name: 'alias.test.local', source: 'dns' }]);
    assert.deepEqual(backward.candidates, forward.candidates);
    assert.equal(forward.records.filter((r) => r.type === 'SRV').length, 2);
  });

  it('uses every A address of a target, prefers A over AAAA, takes IP literals as they are and skips the "." target', () => {
    const { verdict, asked } = runLookup({
      'SRV _troupe._tcp.test.local': ok({
        question: SRV_Q,
        answers: [srv('n1.test.local', 9101), srv('10.9.9.9', 9109), srv('.', 9999)],
        additionals: [a('n1.test.local', '10.0.0.1'), a('n1.test.local', '10.0.0.11'), aaaa('n1.test.local', 'fd00::1')],
      }),
    });
    assert.deepEqual(asked, ['SRV _troupe._tcp.test.local']);
    assert.deepEqual(addresses(verdict), ['10.0.0.11:9101', '10.0.0.1:9101', '10.9.9.9:9109']);
  });

  it('follows a CNAME to the SRV records', () => {
    const { verdict } = runLookup({
      'SRV _troupe._tcp.test.local': ok({ question: SRV_Q, answers: [cname(NAME, 'real.test.local'), srv('n1.test.local', 9101, 'real.test.local')], additionals: [a('n1.test.local', '10.0.0.1')] }),
    });
    assert.deepEqual(addresses(verdict), ['10.0.0.1:9101']);
  });

  it('says it came over TCP when an answer did', () => {
    const { verdict } = runLookup({ 'SRV _troupe._tcp.test.local': ok({ question: SRV_Q, answers: [srv('10.0.0.1', 9101)] }, 'tcp') });
    assert.ok(verdict.ok && verdict.usedTcp);
  });

  it('is partial, not a failure, when some targets cannot be resolved', () => {
    const { verdict } = runLookup({
      'SRV _troupe._tcp.test.local': ok({ question: SRV_Q, answers: [srv('n1.test.local', 9101), srv('n2.test.local', 9102), srv('n3.test.local', 9103)] }),
      'A n1.test.local': ok({ question: { name: 'n1.test.local', type: 'A' }, answers: [a('n1.test.local', '10.0.0.1')] }),
      'A n2.test.local': fail('timeout'),
      'A n3.test.local': ok({ question: { name: 'n3.test.local', type: 'A' }, rcode: 'SERVFAIL' }),
    });
    assert.ok(verdict.ok && !verdict.complete);
    assert.deepEqual(addresses(verdict), ['10.0.0.1:9101']);
    assert.deepEqual(verdict.problems.map((p) => `${p.question.name} ${p.reason}`), ['n2.test.local timeout', 'n3.test.local servfail']);
  });

  describe('a listed target that yields no address is a problem, never a removal', () => {
    // A lagging secondary or a negative-cache entry can deny a target the SRV answer still lists.
    const n1 = { address: '10.0.0.1:9101', name: 'n1.test.local', source: 'dns' };
    const n2 = { address: '10.0.0.2:9102', name: 'n2.test.local', source: 'dns' };
    const srvAnswer = ok({ question: SRV_Q, answers: [srv('n1.test.local', 9101), srv('n2.test.local', 9102)], additionals: [a('n1.test.local', '10.0.0.1')] });
    const rows: Array<[string, AnswerTable, string]> = [
      ['NXDOMAIN for the target', { 'SRV _troupe._tcp.test.local': srvAnswer, 'A n2.test.local': ok({ question: { name: 'n2.test.local', type: 'A' }, rcode: 'NXDOMAIN' }) }, 'nxdomain'],
      [
        'no data for both A and AAAA',
        {
          'SRV _troupe._tcp.test.local': srvAnswer,
          'A n2.test.local': ok({ question: { name: 'n2.test.local', type: 'A' } }),
          'AAAA n2.test.local': ok({ question: { name: 'n2.test.local', type: 'AAAA' } }),
        },
        'empty',
      ],
      [
        'no data for A, then NXDOMAIN for AAAA',
        {
          'SRV _troupe._tcp.test.local': srvAnswer,
          'A n2.test.local': ok({ question: { name: 'n2.test.local', type: 'A' } }),
          'AAAA n2.test.local': ok({ question: { name: 'n2.test.local', type: 'AAAA' }, rcode: 'NXDOMAIN' }),
        },
        'nxdomain',
      ],
    ];
    for (const [what, table, reason] of rows) {
      it(`${what}: partial, the target is a problem, and the previous set keeps it`, () => {
        const { verdict } = runLookup(table);
        assert.ok(verdict.ok && !verdict.complete, JSON.stringify(verdict));
        assert.deepEqual(addresses(verdict), ['10.0.0.1:9101']);
        assert.deepEqual(verdict.problems.map((p) => `${p.question.name} ${p.reason}`), [`n2.test.local ${reason}`]);
        assert.deepEqual(nextCandidates([n1, n2], verdict).map((c) => c.address), ['10.0.0.1:9101', '10.0.0.2:9102']);
      });
    }
  });

  it('fails as empty when no target has an address, and with the target failure when none could be resolved', () => {
    const none = runLookup({
      'SRV _troupe._tcp.test.local': ok({ question: SRV_Q, answers: [srv('gone.test.local', 9101)] }),
      'A gone.test.local': ok({ question: { name: 'gone.test.local', type: 'A' } }),
      'AAAA gone.test.local': ok({ question: { name: 'gone.test.local', type: 'AAAA' }, rcode: 'NXDOMAIN' }),
    }).verdict;
    assert.ok(!none.ok && none.reason === 'empty');
    const failed = runLookup({
      'SRV _troupe._tcp.test.local': ok({ question: SRV_Q, answers: [srv('n1.test.local', 9101)] }),
      'A n1.test.local': fail('timeout'),
    }).verdict;
    assert.ok(!failed.ok && failed.reason === 'timeout');
    assert.match(failed.detail, /n1\.test\.local/);
  });
});

describe('DnsLookup: A/AAAA fallback (headless service)', () => {
  it('uses the A records of the name with the fallback port, without names', () => {
    const { verdict, asked } = runLookup({
      'SRV _troupe._tcp.test.local': ok({ question: SRV_Q }),
      'A _troupe._tcp.test.local': ok({ question: { name: NAME, type: 'A' }, answers: [a(NAME, '10.0.0.2'), a(NAME, '10.0.0.1')] }),
    }, NAME, 9100);
    assert.deepEqual(asked, ['SRV _troupe._tcp.test.local', 'A _troupe._tcp.test.local']);
    assert.ok(verdict.ok && verdict.complete && verdict.via === 'address');
    assert.deepEqual(verdict.candidates, [{ address: '10.0.0.1:9100', source: 'dns' }, { address: '10.0.0.2:9100', source: 'dns' }]);
  });

  it('falls back to AAAA, then fails as empty when the name has nothing', () => {
    const v6 = runLookup({
      'SRV _troupe._tcp.test.local': ok({ question: SRV_Q }),
      'A _troupe._tcp.test.local': ok({ question: { name: NAME, type: 'A' } }),
      'AAAA _troupe._tcp.test.local': ok({ question: { name: NAME, type: 'AAAA' }, answers: [aaaa(NAME, 'fd00::1')] }),
    }).verdict;
    assert.deepEqual(addresses(v6), ['[fd00::1]:9100']);
    const empty = runLookup({
      'SRV _troupe._tcp.test.local': ok({ question: SRV_Q }),
      'A _troupe._tcp.test.local': ok({ question: { name: NAME, type: 'A' } }),
      'AAAA _troupe._tcp.test.local': ok({ question: { name: NAME, type: 'AAAA' } }),
    }).verdict;
    assert.ok(!empty.ok && empty.reason === 'empty');
  });

  it('fails with the reason of a failed A question', () => {
    const { verdict } = runLookup({ 'SRV _troupe._tcp.test.local': ok({ question: SRV_Q }), 'A _troupe._tcp.test.local': fail('timeout') });
    assert.ok(!verdict.ok && verdict.reason === 'timeout');
  });
});

describe('DnsLookup: failures of the SRV question', () => {
  const rows: Array<[string, QueryOutcome, string]> = [
    ['NXDOMAIN', ok({ question: SRV_Q, rcode: 'NXDOMAIN' }), 'nxdomain'],
    ['SERVFAIL', ok({ question: SRV_Q, rcode: 'SERVFAIL' }), 'servfail'],
    ['REFUSED', ok({ question: SRV_Q, rcode: 'REFUSED' }), 'refused'],
    ['FORMERR', ok({ question: SRV_Q, rcode: 'FORMERR' }), 'formerr'],
    ['a timeout', fail('timeout'), 'timeout'],
    ['an unreachable server', fail('unreachable'), 'unreachable'],
    ['a truncated answer whose TCP retry failed', fail('truncated'), 'truncated'],
    ['a malformed answer', fail('malformed'), 'malformed'],
  ];
  for (const [what, outcome, reason] of rows) {
    it(`${what} → ${reason}, asking nothing more`, () => {
      const { verdict, asked } = runLookup({ 'SRV _troupe._tcp.test.local': outcome });
      assert.deepEqual(asked, ['SRV _troupe._tcp.test.local']);
      assert.ok(!verdict.ok);
      assert.equal(verdict.reason, reason);
    });
  }

  it('reaches its verdict even when the shell answers before advancing', () => {
    const lookup = new DnsLookup({ name: NAME, fallbackPort: 9100 });
    lookup.step({ type: 'start' });
    const [question] = lookup.ready().queries;
    lookup.step({ type: 'outcome', question: question!, outcome: ok({ question: SRV_Q, answers: [srv('10.0.0.1', 9101)] }) });
    const ready = lookup.ready();
    assert.deepEqual(ready.queries, []);
    assert.ok(ready.verdict?.ok);
  });

  it('ignores outcomes of questions it did not ask, and outcomes after its verdict', () => {
    const lookup = new DnsLookup({ name: NAME, fallbackPort: 9100 });
    lookup.step({ type: 'start' });
    lookup.advance(lookup.ready());
    lookup.step({ type: 'outcome', question: { name: 'x.test.local', type: 'A' }, outcome: fail('timeout') });
    assert.equal(lookup.ready().verdict, null);
    lookup.step({ type: 'outcome', question: SRV_Q, outcome: ok({ question: SRV_Q, answers: [srv('10.0.0.1', 9101)] }) });
    const verdict = lookup.ready().verdict;
    lookup.step({ type: 'outcome', question: SRV_Q, outcome: fail('timeout') });
    assert.equal(lookup.ready().verdict, verdict);
    assert.equal(questionKey({ name: 'X.Test.Local.', type: 'A' }), 'A x.test.local');
  });
});

describe('DnsLookup: search names (resolv.conf search/ndots applied by the shell)', () => {
  const names = ['_cluster._tcp.troupe.default.svc.cluster.local', '_cluster._tcp.troupe.svc.cluster.local', '_cluster._tcp.troupe'];
  const [first, second, last] = names as [string, string, string];
  const srvQ = (name: string): DnsQuestion => ({ name, type: 'SRV' });

  it('answers with the first name that exists, and says which', () => {
    const { verdict, asked } = runLookup({
      [`SRV ${first}`]: ok({ question: srvQ(first), answers: [srv('n1.test.local', 9101, first)], additionals: [a('n1.test.local', '10.0.0.1')] }),
    }, '_cluster._tcp.troupe', 9100, names);
    assert.deepEqual(asked, [`SRV ${first}`]);
    assert.ok(verdict.ok && verdict.complete && verdict.name === first);
    assert.deepEqual(addresses(verdict), ['10.0.0.1:9101']);
  });

  it('moves on after NXDOMAIN, and after a name that exists with no SRV, A or AAAA record', () => {
    const { verdict, asked } = runLookup({
      [`SRV ${first}`]: ok({ question: srvQ(first), rcode: 'NXDOMAIN' }),
      [`SRV ${second}`]: ok({ question: srvQ(second) }),
      [`A ${second}`]: ok({ question: { name: second, type: 'A' } }),
      [`AAAA ${second}`]: ok({ question: { name: second, type: 'AAAA' } }),
      [`SRV ${last}`]: ok({ question: srvQ(last) }),
      [`A ${last}`]: ok({ question: { name: last, type: 'A' }, answers: [a(last, '10.0.0.9')] }),
    }, '_cluster._tcp.troupe', 9100, names);
    assert.deepEqual(asked, [`SRV ${first}`, `SRV ${second}`, `A ${second}`, `AAAA ${second}`, `SRV ${last}`, `A ${last}`]);
    assert.ok(verdict.ok && verdict.via === 'address' && verdict.name === last);
    assert.deepEqual(addresses(verdict), ['10.0.0.9:9100']);
  });

  it('fails as nxdomain naming every name tried when none exists', () => {
    const table: AnswerTable = {};
    for (const n of names) table[`SRV ${n}`] = ok({ question: srvQ(n), rcode: 'NXDOMAIN' });
    const { verdict, asked } = runLookup(table, '_cluster._tcp.troupe', 9100, names);
    assert.equal(asked.length, 3);
    assert.ok(!verdict.ok && verdict.reason === 'nxdomain', JSON.stringify(verdict));
    for (const n of names) assert.ok(verdict.detail.includes(n), verdict.detail);
  });

  it('fails as empty when some name exists but none yields an address', () => {
    const { verdict } = runLookup({
      [`SRV ${first}`]: ok({ question: srvQ(first), rcode: 'NXDOMAIN' }),
      [`SRV ${second}`]: ok({ question: srvQ(second) }),
      [`A ${second}`]: ok({ question: { name: second, type: 'A' } }),
      [`AAAA ${second}`]: ok({ question: { name: second, type: 'AAAA' } }),
      [`SRV ${last}`]: ok({ question: srvQ(last), rcode: 'NXDOMAIN' }),
    }, '_cluster._tcp.troupe', 9100, names);
    assert.ok(!verdict.ok && verdict.reason === 'empty', JSON.stringify(verdict));
  });

  it('stops at a failure (SERVFAIL, timeout): a later name must not stand in for one that could not be asked', () => {
    for (const outcome of [ok({ question: srvQ(first), rcode: 'SERVFAIL' }), fail('timeout')]) {
      const { verdict, asked } = runLookup({ [`SRV ${first}`]: outcome }, '_cluster._tcp.troupe', 9100, names);
      assert.deepEqual(asked, [`SRV ${first}`]);
      assert.ok(!verdict.ok && (verdict.reason === 'servfail' || verdict.reason === 'timeout'));
    }
  });
});

// ------------------------------------------------------------ the shrink rule

describe('nextCandidates (the shrink rule)', () => {
  const c = (address: string, name?: string): Candidate => ({ address, ...(name ? { name } : {}), source: 'dns' });
  const known = [c('10.0.0.1:9101', 'n1'), c('10.0.0.2:9102', 'n2')];
  const okVerdict = (complete: boolean, candidates: Candidate[]): LookupVerdict => ({ ok: true, name: NAME, complete, via: 'srv', candidates, records: [], problems: [], usedTcp: false });
  const rows: Array<[string, LookupVerdict, string[]]> = [
    ['a failure keeps the set', { ok: false, reason: 'timeout', detail: '', records: [], usedTcp: false }, ['10.0.0.1:9101', '10.0.0.2:9102']],
    ['a complete answer replaces it (shrinks)', okVerdict(true, [c('10.0.0.1:9101', 'n1')]), ['10.0.0.1:9101']],
    ['a complete answer replaces it (grows)', okVerdict(true, [...known, c('10.0.0.3:9103', 'n3')]), ['10.0.0.1:9101', '10.0.0.2:9102', '10.0.0.3:9103']],
    ['a partial answer only adds', okVerdict(false, [c('10.0.0.3:9103', 'n3')]), ['10.0.0.1:9101', '10.0.0.2:9102', '10.0.0.3:9103']],
    ['an answer without candidates keeps the set', okVerdict(true, []), ['10.0.0.1:9101', '10.0.0.2:9102']],
  ];
  for (const [what, verdict, expected] of rows) {
    it(what, () => assert.deepEqual(nextCandidates(known, verdict).map((x) => x.address), expected));
  }

  it('sameCandidates ignores order and sees a renamed address', () => {
    assert.ok(sameCandidates(known, [...known].reverse()));
    assert.ok(!sameCandidates(known, [known[0]!, c('10.0.0.2:9102', 'other')]));
    assert.ok(!sameCandidates(known, [known[0]!]));
  });
});
