import { defineConfig } from '@playwright/test';
import base from '../playwright.config';

// The dashboard performance run: dashboard.perf.spec.ts against a running
// `portico simulate` (perf/run.sh, or go tool task bench:dashboard, starts
// it). It keeps the suite's browser, flags and Basic credentials, and runs
// apart from it because it takes minutes and measures rather than checks.
//
// Environment, besides the suite's PORTICO_ADMIN_* and PORTICO_CHROMIUM:
//   PORTICO_PERF_SESSIONS       sessions the simulation keeps (default 10000)
//   PORTICO_PERF_RATE           its changes per second, for the report (default 1000)
//   PORTICO_PERF_STARTUP_RUNS   cold page loads for the startup figures (default 3)
//   PORTICO_PERF_FRAME_SECONDS  length of the frame-time phase (default 60)
//   PORTICO_PERF_MINUTES        length of the memory phase (default 1; the budget's is 10)
//   PORTICO_PERF_RESULTS        where the JSON results go (default perf/results.json)

// One id for the whole run, inherited by the workers, so that the phases'
// results land in one file even when a failure restarts the worker.
process.env.PORTICO_PERF_RUN ??= new Date().toISOString();

export default defineConfig(base, {
  testDir: '.',
  testMatch: 'dashboard.perf.spec.ts',
  testIgnore: [],
  // Each phase sets its own, from the lengths above.
  timeout: 120_000,
  outputDir: 'test-results',
  globalTeardown: './report.ts',
  use: {
    // A trace snapshots the 10,000-row DOM at every step: it would be
    // measured along with the page.
    trace: 'off',
    viewport: { width: 1280, height: 800 },
  },
});
