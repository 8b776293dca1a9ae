import { defineConfig } from '@playwright/test';

// End-to-end tests for the Portico admin dashboard.
//
// Portico (and the MariaDB behind it) must already be running: the Taskfile
// starts them before invoking Playwright, so there is no webServer block.
//
// Environment:
//   PORTICO_ADMIN_URL       admin HTTP base URL      (default http://127.0.0.1:8989)
//   PORTICO_ADMIN_USER      admin basic-auth user    (default admin)
//   PORTICO_ADMIN_PASSWORD  admin basic-auth password (default mariadb)
//   PORTICO_LISTENER_PORT   Portico MariaDB listener (default 4006), see sessions.spec.ts
//   PORTICO_DB_USER / PORTICO_DB_PASSWORD  backend credentials (default maxuser/maxpwd)
//   PORTICO_CHROMIUM        browser binary           (default /usr/bin/chromium)
//
// Browsers are never downloaded (PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1); the
// system Chromium from Debian is used instead.
export default defineConfig({
  testDir: '.',
  testMatch: '**/*.spec.ts',
  // The dashboard performance run has its own config and takes minutes:
  // perf/playwright.perf.config.ts (go tool task bench:dashboard).
  testIgnore: 'perf/**',
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
    trace: 'retain-on-failure',
  },
});
