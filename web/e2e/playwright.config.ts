import { defineConfig } from '@playwright/test';

// End-to-end tests for the Portico admin dashboard.
//
// Portico (and the MariaDB behind it) must already be running: run.sh starts
// Portico with portico-e2e.cnf, the Taskfile the MariaDB, so there is no
// webServer block. Real `mariadb` clients connect through Portico's
// listeners (helpers/mariadb.ts).
//
// Environment (run.sh sets the ports):
//   PORTICO_ADMIN_URL       admin HTTP base URL      (default http://127.0.0.1:8989)
//   PORTICO_ADMIN_USER      admin basic-auth user    (default admin)
//   PORTICO_ADMIN_PASSWORD  admin basic-auth password (default mariadb)
//   PORTICO_LISTENER_PORT   listener of service E2E-Router (default 4006)
//   PORTICO_OTHER_LISTENER_PORT  listener of service E2E-Other (default 4007)
//   PORTICO_DB_USER / PORTICO_DB_PASSWORD  backend credentials (default maxuser/maxpwd)
//   PORTICO_BINARY          the portico that specs start themselves (default bin/portico)
//   PORTICO_RESTART_PORTS   admin,listener,listener of reconnect.spec.ts's own Portico (default: free ports)
//   PORTICO_SIMULATE_PORT   admin port of many.spec.ts's `portico simulate` (default: a free port)
//   PORTICO_SCREENSHOT      where screenshot.spec.ts writes the README's picture
//   PORTICO_CHROMIUM        browser binary           (default /usr/bin/chromium)
//   PORTICO_E2E_TRACE=full  keep DOM snapshots and screenshots in failures' traces
//
// Browsers are never downloaded (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1); the
// system Chromium from Debian is used instead.
export default defineConfig({
  testDir: '.',
  testMatch: '**/*.spec.ts',
  // The dashboard performance run has its own config and takes minutes:
  // perf/playwright.perf.config.ts (go tool task bench:dashboard). The
  // embedded-database test needs its own backend: embedded/run.sh (go tool
  // task e2e:embedded).
  testIgnore: ['perf/**', 'embedded/**'],
  timeout: 30_000,
  expect: { timeout: 5_000 },
  retries: 0,
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  reporter: 'list',
  outputDir: 'test-results',
  use: {
    baseURL: process.env.PORTICO_ADMIN_URL ?? 'http://127.0.0.1:8989',
    // Pages answer an unauthenticated visit with the sign-in form (200), not
    // a Basic challenge, so Basic credentials go with every request. (The
    // httpCredentials option only answers challenges.) The first page load
    // also sets the token cookies that the websocket then uses.
    extraHTTPHeaders: {
      Authorization:
        'Basic ' +
        Buffer.from(
          `${process.env.PORTICO_ADMIN_USER ?? 'admin'}:${process.env.PORTICO_ADMIN_PASSWORD ?? 'mariadb'}`,
        ).toString('base64'),
    },
    headless: true,
    browserName: 'chromium',
    launchOptions: {
      executablePath: process.env.PORTICO_CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-dev-shm-usage',
      ],
    },
    // A failed test keeps its trace: actions, console, network. DOM
    // snapshots and screencast frames of the ever-redrawing table would
    // cost about a third of the run's time; PORTICO_E2E_TRACE=full adds
    // them. (A failure's error-context.md still shows the page.)
    trace: {
      mode: 'retain-on-failure',
      snapshots: process.env.PORTICO_E2E_TRACE === 'full',
      screenshots: process.env.PORTICO_E2E_TRACE === 'full',
      sources: true,
    },
  },
});
