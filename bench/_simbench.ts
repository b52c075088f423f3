import { runOverlaySimBench } from './overlay-sim.bench';
const r = await runOverlaySimBench(Number(process.argv[2] ?? 200), { churnMinutes: Number(process.argv[3] ?? 5) });
console.log(JSON.stringify(r));
process.exit(0);
