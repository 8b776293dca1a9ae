import { expect, test } from '@playwright/test';
import { MariaDBClient } from './helpers/mariadb';

// The README's screenshot of the dashboard, with a few real sessions. It is
// written only when PORTICO_SCREENSHOT names a file (go tool task
// screenshot), so an ordinary test run leaves the tree untouched; the rest of
// the test runs every time.
test('the dashboard with live sessions', async ({ page }) => {
  const clients = [MariaDBClient.spawn(), MariaDBClient.spawn(), MariaDBClient.spawn()];
  try {
    const ids = await Promise.all(clients.map((c) => c.connectionId()));
    await page.setViewportSize({ width: 1200, height: 420 });
    await page.goto('/');
    await expect(page.getByTestId('stream-status')).toHaveAttribute('data-state', 'live', { timeout: 15_000 });
    for (const id of ids) {
      await expect(page.locator(`[data-testid="session-row"][data-session-id="${id}"]`)).toBeVisible();
    }
    const path = process.env.PORTICO_SCREENSHOT;
    if (path) {
      await page.screenshot({ path });
    }
  } finally {
    await Promise.all(clients.map((c) => c.kill()));
  }
});
