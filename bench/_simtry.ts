import { OverlaySimulation } from '../src-main/reload/sim';
const N = Number(process.argv[2] ?? 1000);
const B = Number(process.argv[3] ?? 20);
const t0 = performance.now();
const sim = await OverlaySimulation.create({ nodes: N, seed: 3 });
console.log(
  'created',
  (performance.now() - t0).toFixed(0),
  'ms',
  'heapMB',
  (process.memoryUsage().heapUsed / 2 ** 20).toFixed(0),
);
const t1 = performance.now();
await sim.startMany([0]);
for (let i = 1; i < N; i += B) {
  const failed = await sim.startMany(Array.from({ length: Math.min(B, N - i) }, (_, k) => i + k));
  if (failed.length) console.log('failed', failed);
}
console.log(
  'joined',
  (performance.now() - t1).toFixed(0),
  'ms',
  'virtual',
  sim.clock.now(),
  'heapMB',
  (process.memoryUsage().heapUsed / 2 ** 20).toFixed(0),
);
for (const t of [10, 60]) {
  await sim.run(t * 1000 - (t === 10 ? 0 : 0), 20);
  console.log('after +', t, 's ring errors', sim.ringErrors().length);
}
let msgs = 0;
for (const n of sim.nodes) msgs += n.node.transport.counters.messagesOut;
console.log('messages out total', msgs, 'per join', (msgs / N).toFixed(1));
const errs = sim.ringErrors();
for (const e of errs.slice(0, 4)) {
  const n = sim.nodes[e.node]!;
  console.log(
    e.node,
    'exp',
    e.expected.map((x) => x.slice(0, 6)).join(),
    'act',
    e.actual.map((x) => x.slice(0, 6)).join(),
    'preds',
    n.node.table.neighbours.predecessors.map((x) => Buffer.from(x).toString('hex').slice(0, 6)).join(),
  );
}
const notReady = sim.nodes.filter((n) => !n.node.ready).map((n) => n.index + ':' + n.node.chord.status);
console.log('not ready', notReady.join(' '));
process.exit(0);
