/**
 * The top self-time functions of a V8 CPU profile (`node --cpu-prof`), for
 * docs/BENCHMARKS.md's "where the time goes": self time per function
 * (name, file, line), as a share of the profile's samples and of its
 * non-idle samples, plus the share of the idle, GC and program buckets.
 *
 *   node dist/bench/cpu-profile-top.js <file.cpuprofile> [top=25]
 *   node dist/bench/cpu-profile-top.js --by-file <file.cpuprofile> [top=25]   # self time per source file / package
 *   node dist/bench/cpu-profile-top.js --by-area <file.cpuprofile>...         # per area of the code (below), profiles summed
 *
 * With --by-file and --by-area, the self time of a native frame (no source
 * URL: a V8 builtin, a binding such as a socket write, an addon's call) or
 * of node's own JS (node:…) is counted in its nearest caller from the
 * project or a package, so that a socket write lands in the transport or
 * the HTTP server that made it; node's frames with no such caller (a socket
 * read, a timer firing) keep their own module.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const mode = args[0] === '--by-file' || args[0] === '--by-area' ? args.shift()! : '--by-function';
const byFile = mode !== '--by-function';
const files = mode === '--by-area' ? args : args.slice(0, 1);
const top = mode === '--by-area' ? Infinity : Number(args[1] ?? 25);
if (files.length === 0) {
  console.error('usage: cpu-profile-top [--by-file | --by-area] <file.cpuprofile>... [top=25]');
  process.exit(2);
}

/** Areas of --by-area, first match wins (by the path fileKey gives). */
const AREAS: Array<[string, RegExp]> = [
  ['HTTP: node:http, undici Request, web streams, hono, zod, lib/http', /^(node:_http|node:internal\/deps\/undici|node:internal\/webstreams|hono|@hono|zod|lib\/http\/|node:internal\/abort_controller|node:internal\/event_target)/],
  ['msgpack encode/decode (msgpackr)', /^msgpackr/],
  ['LMDB (lmdb-js, ordered-binary, lib/storage)', /^(lmdb|ordered-binary|lib\/storage\/)/],
  ['Raft core (lib/protocol/raft)', /^lib\/protocol\/raft\//],
  ['actors across nodes (lib/remote)', /^lib\/remote\//],
  ['nact actors and mailboxes (nact, denque)', /^(nact|denque)/],
  ['Raft host, router, rpc (lib/raft, lib/rpc, actors)', /^(lib\/raft\/|lib\/rpc\/|actors\/)/],
  ['tables (lib/tables)', /^lib\/tables\//],
  ['transport (lib/transport) and its socket writes', /^lib\/transport\//],
  ['socket reads and stream plumbing with no caller of ours (node:net, streams)', /^(node:net|node:internal\/stream_base_commons|node:internal\/streams\/|node:stream)/],
  ['the benchmark\'s own load (bench/)', /^bench\//],
  ['timers, promise jobs, events and other node internals run by the event loop', /^node:/],
];

const selfUs = new Map<string, number>();
let total = 0;
for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const own = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    own.set(id, (own.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
  }
  for (const [id, us] of own) {
    total += us;
    let n = byId.get(id)!;
    const name = n.callFrame.functionName || '(anonymous)';
    const meta = ['(idle)', '(program)', '(garbage collector)'].includes(name);
    let key: string;
    if (meta) key = name;
    else if (!byFile) key = `${name}  ${where(n.callFrame.url)}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
    else {
      // Native frames and node's own JS count for their nearest caller from the project or a package.
      const userland = (url: string): boolean => url !== '' && !url.startsWith('node:');
      let cur: number | undefined = id;
      while (cur !== undefined && !userland(byId.get(cur)!.callFrame.url)) cur = parent.get(cur);
      if (cur === undefined) {
        cur = id; // no such caller: node's own module, else native
        while (cur !== undefined && byId.get(cur)!.callFrame.url === '') cur = parent.get(cur);
      }
      if (cur !== undefined) n = byId.get(cur)!;
      key = cur === undefined ? '(native, no JS caller)' : fileKey(n.callFrame.url);
      if (mode === '--by-area') key = key.startsWith('(') ? key : AREAS.find(([, re]) => re.test(key))?.[0] ?? `other: ${key}`;
    }
    selfUs.set(key, (selfUs.get(key) ?? 0) + us);
  }
}

/** A short source location: the path below the repository's dist/ or node_modules/, else the tail of the URL. */
function where(url: string): string {
  if (url === '') return '';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const dist = url.lastIndexOf('/dist/');
  if (dist >= 0) return url.slice(dist + '/dist/'.length);
  return url.replace(/^file:\/\//, '').replace(/^node:/, 'node:');
}

function fileKey(url: string): string {
  const w = where(url);
  if (w === '') return '(native: V8 builtins, bindings, lmdb and msgpackr addons)';
  if (url.includes('node_modules/')) return w.split('/')[0]!.startsWith('@') ? w.split('/').slice(0, 2).join('/') : w.split('/')[0]!;
  return w;
}

const buckets = selfUs;
const idle = buckets.get('(idle)') ?? 0;
const busy = total - idle;
console.log(`${files.join(' + ')}: ${(total / 1e6).toFixed(2)} s profiled, ${((100 * idle) / total).toFixed(1)}% idle; shares below are of the ${(busy / 1e6).toFixed(2)} s not idle`);
const rows = [...buckets].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, top);
for (const [key, us] of rows) console.log(`${((100 * us) / busy).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${key}`);
