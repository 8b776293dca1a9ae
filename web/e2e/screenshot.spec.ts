import { expect, test } from './helpers/fixtures';
import { ensureUsers, otherListenerPort, users } from './helpers/mariadb';
import { expectLive, saveScreenshot, sessionRow } from './helpers/portico';

// Screenshots of every page, in light and dark, with a few real sessions:
// attached to the test and written to test-results/screenshots/ (the run's
// output, not committed).
//
// The README's screenshot is written only when PORTICO_SCREENSHOT names a
// file (go tool task screenshot), so an ordinary test run leaves the tree
// untouched; the rest of that test runs every time.

test.beforeAll(async () => {
  await ensureUsers();
});

test('the dashboard with live sessions', async ({ page, clients }) => {
  const ids = (await Promise.all([clients.connect(), clients.connect(), clients.connect()])).map((o) => o.id);
  await page.setViewportSize({ width: 1200, height: 420 });
  await page.goto('/');
  await expectLive(page);
  for (const id of ids) {
    await expect(sessionRow(page, id)).toBeVisible();
  }
  const path = process.env.PORTICO_SCREENSHOT;
  if (path) {
    // Past the rows' added marks, for a calm picture.
    await expect(page.locator('#session-rows tr.row-added')).toHaveCount(0);
    await page.screenshot({ path });
  }
});

for (const scheme of ['light', 'dark'] as const) {
  test.describe(`${scheme} colour scheme`, () => {
    test.use({ colorScheme: scheme, viewport: { width: 1280, height: 720 } });

    test('sessions, detail and services pages', async ({ page, clients }, testInfo) => {
      const a = await clients.connect({ ...users.alice, database: 'portico_demo' });
      const b = await clients.connect({ ...users.bob, port: otherListenerPort });
      const c = await clients.connect();
      await a.client.query(
        "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'information_schema' LIMIT 5",
      );
      await b.client.query('SELECT COUNT(*) AS n FROM information_schema.tables');
      const running = c.client.start('SELECT SLEEP(30) AS long_report');
      void running().catch(() => {}); // ended by the kill after the test

      await page.goto('/');
      await expectLive(page);
      expect(await page.evaluate(() => matchMedia('(prefers-color-scheme: dark)').matches)).toBe(scheme === 'dark');
      for (const id of [a.id, b.id, c.id]) await expect(sessionRow(page, id)).toBeVisible();
      await expect(sessionRow(page, c.id).locator('span.dur.running')).toBeVisible();
      await expect(page.locator('#session-rows tr.row-added')).toHaveCount(0);
      await sessionRow(page, b.id).getByTestId('session-service').click();
      await saveScreenshot(page, testInfo, `sessions-${scheme}`);

      await sessionRow(page, c.id).getByTestId('kill-button').click();
      await expect(page.getByTestId('kill-dialog')).toBeVisible();
      await saveScreenshot(page, testInfo, `kill-dialog-${scheme}`);
      await page.getByTestId('kill-cancel').click();

      await page.goto(`/sessions/${a.id}`);
      await expectLive(page);
      await expect(page.getByTestId('detail-statements')).toContainText('information_schema.tables');
      await saveScreenshot(page, testInfo, `detail-${scheme}`);

      await page.goto('/services');
      await expectLive(page);
      await saveScreenshot(page, testInfo, `services-${scheme}`);
    });

    test.describe('signed out', () => {
      test.use({ extraHTTPHeaders: {} });

      test('sign-in page', async ({ page }, testInfo) => {
        await page.goto('/');
        await page.getByTestId('login-user').fill('admin');
        await page.getByTestId('login-password').fill('wrong');
        await page.getByTestId('login-submit').click();
        await expect(page.getByTestId('login-message')).toBeVisible();
        await saveScreenshot(page, testInfo, `login-${scheme}`);
      });
    });
  });
}
