import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from './cluster.js';

test('three nodes elect one leader, replicate proposals and apply them in order everywhere', () => {
  const c = new Cluster(['a', 'b', 'c']);
  const leader = c.elect();
  for (let i = 0; i < 5; i++) c.propose(leader, `x${i}`);
  c.stabilize();
  for (const id of ['a', 'b', 'c']) assert.deepEqual(c.node(id).machine, ['x0', 'x1', 'x2', 'x3', 'x4'], id);
  const leaders = ['a', 'b', 'c'].filter((id) => c.core(id).role === 'leader');
  assert.deepEqual(leaders, [leader]);
});
