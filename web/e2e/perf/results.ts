import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

// The results file that the spec's phases fill in and report.ts prints. A
// file rather than memory: Playwright restarts the worker after a failed
// test, and the phases after it must not lose what came before.

export const resultsPath = process.env.PORTICO_PERF_RESULTS ?? path.join(__dirname, 'results.json');

export const budget = { fcpMs: 200, liveMs: 500, frameP95Ms: 16.7 };

// refreshMs is headless Chromium's frame interval (60 Hz). Without
// cross-origin isolation, requestAnimationFrame times are coarsened to
// 0.1 ms, so a page that makes every frame measures 16.6, 16.7 and 16.8 ms:
// a raw p95 of 16.8 ms on an empty page. Frames can only begin on the
// interval, so each delta is snapped to a whole number of them.
export const refreshMs = 1000 / 60;

export interface StartupRun {
  fcpMs: number | null;
  liveMs: number | null;
  // How live was timed: the client's performance.mark('portico:live'), or
  // the first animation frame that showed the live state and the count.
  liveSource: 'mark' | 'observed' | null;
  liveObservedMs: number | null;
  responseStartMs: number;
  responseEndMs: number;
  domContentLoadedMs: number;
  loadMs: number;
  htmlBytes: number;
  wasmMs: number | null;
  wasmBytes: number | null;
  count: string | null;
  state: string | null;
}

export interface Distribution {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export interface MemorySample {
  t: number; // seconds since the phase started (the table was live)
  jsHeapUsedBeforeGC: number;
  jsHeapUsed: number; // after a forced GC
  jsHeapTotal: number;
  performanceMemoryUsed: number | null;
  wasmBytes: number | null;
  domNodes: number;
  listeners: number;
  count: string | null;
  state: string | null;
}

export interface Growth {
  from: number; // seconds
  to: number;
  jsHeapBytes: number;
  jsHeapPercent: number;
  wasmBytes: number | null;
  domNodes: number;
}

export interface Results {
  run: string;
  config: { url: string; sessions: number; rate: number; frameSeconds: number; minutes: number; chromium?: string };
  budget: typeof budget;
  startup?: { runs: StartupRun[]; medianFcpMs: number | null; medianLiveMs: number | null };
  frames?: {
    seconds: number;
    // deltas are as measured; snapped are rounded to whole refresh
    // intervals (see refreshMs), and are what the budget is checked on.
    deltas: Distribution | null;
    snapped: Distribution | null;
    // late counts frames that took more than one refresh interval; long,
    // more than 50 ms.
    late: number;
    long: number;
    longAnimationFrames: { count: number; totalMs: number; maxMs: number; blockingMs: number } | null;
    stream: { frames: number; bytes: number; added: number; updated: number; removed: number };
    state: string | null;
    count: string | null;
  };
  memory?: { minutes: number; samples: MemorySample[]; growth: Growth | null };
  failures?: string[];
}

/** The results of this run so far, null if there are none. */
export function readResults(): Results | null {
  if (!existsSync(resultsPath)) return null;
  try {
    const r = JSON.parse(readFileSync(resultsPath, 'utf8')) as Results;
    return r.run === process.env.PORTICO_PERF_RUN ? r : null;
  } catch {
    return null; // a torn or foreign file: this run starts over
  }
}

export function saveResults(r: Results): void {
  writeFileSync(resultsPath, JSON.stringify(r, null, 2) + '\n');
}
