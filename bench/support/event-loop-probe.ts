/**
 * Preloaded into a benchmarked `walwatch serve` (`node --import tsx --import …/event-loop-probe.ts`):
 * on each `SIGUSR2` it prints the event-loop delay since the previous one as one JSON line on stderr
 * (`{"eventLoopDelayMs":{"p50","p99","max"}}`) and starts over, so a bench can tell a blocked loop from
 * a slow store.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
const ms = (ns: number) => Math.round(ns / 1e4) / 100;
process.on('SIGUSR2', () => {
  const line = {
    eventLoopDelayMs: { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) },
  };
  process.stderr.write(`${JSON.stringify(line)}\n`);
  delay.reset();
});
