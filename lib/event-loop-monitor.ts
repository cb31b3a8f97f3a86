/**
 * Measures this process's event-loop lag: how late a timer that should fire
 * every `sampleMs` actually fires. The worst lateness over the last window is
 * what peers need to know (a busy node is slow, not dead), so that is what
 * `lagMs()` reports and what the membership actor carries in its acks.
 * Also keeps the all-time maximum for status and metrics.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface EventLoopMonitor {
  /** Worst lag seen in the current and previous window, ms. */
  lagMs(): number;
  /** p99 of the event-loop delay histogram since start, ms. */
  p99Ms(): number;
  /** Called with the latest lag once per sample. */
  onSample(listener: (lagMs: number) => void): void;
  stop(): void;
}

export function startEventLoopMonitor(sampleMs = 250, windowSamples = 8): EventLoopMonitor {
  const histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  histogram.enable();
  const listeners: Array<(lagMs: number) => void> = [];
  let expectedAt = performance.now() + sampleMs;
  let current = 0;
  let previous = 0;
  let samples = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const lag = Math.max(0, now - expectedAt);
    expectedAt = now + sampleMs;
    current = Math.max(current, lag);
    if (++samples >= windowSamples) {
      previous = current;
      current = 0;
      samples = 0;
    }
    for (const listener of listeners) listener(Math.round(Math.max(current, previous)));
  }, sampleMs);
  timer.unref();
  return {
    lagMs: () => Math.round(Math.max(current, previous)),
    p99Ms: () => Math.round(histogram.percentile(99) / 1e6),
    onSample: (listener) => listeners.push(listener),
    stop: () => {
      clearInterval(timer);
      histogram.disable();
    },
  };
}

/** Lag is reported to peers in steps of this many ms: they need its order of magnitude, not every millisecond. */
export const LAG_REPORT_STEP_MS = 10;

/** Calls `report` with the lag rounded to LAG_REPORT_STEP_MS, only when that rounded value changes. */
export function reportLagChanges(monitor: EventLoopMonitor, report: (lagMs: number) => void): void {
  let last = -1;
  monitor.onSample((lagMs) => {
    const quantized = Math.round(lagMs / LAG_REPORT_STEP_MS) * LAG_REPORT_STEP_MS;
    if (quantized === last) return;
    last = quantized;
    report(quantized);
  });
}
