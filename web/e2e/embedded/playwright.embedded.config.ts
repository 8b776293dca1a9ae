import { defineConfig } from '@playwright/test';
import base from '../playwright.config';

// The embedded-database test: embedded.spec.ts against the setup that
// `go tool task run` makes on a machine without MariaDB (bin/embeddb, Portico
// and `portico load` in front of it), which embedded/run.sh starts. It keeps
// the suite's browser and flags, and runs apart from it because it needs
// its own backend and load (go tool task e2e:embedded).
export default defineConfig(base, {
  testDir: '.',
  testMatch: 'embedded.spec.ts',
  testIgnore: [],
  outputDir: 'test-results',
});
