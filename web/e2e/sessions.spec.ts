import { expect, test, type Page } from '@playwright/test';
import { MariaDBClient, dbUser } from './helpers/mariadb';

// Every client spawned by a test is killed afterwards, even when it fails.
let clients: MariaDBClient[] = [];

function connect(): MariaDBClient {
  const client = MariaDBClient.spawn();
  clients.push(client);
  return client;
}

test.afterEach(async () => {
  await Promise.all(clients.map((c) => c.kill()));
  clients = [];
});

function sessionRow(page: Page, id: string) {
  return page.locator(`[data-testid="session-row"][data-session-id="${id}"]`);
}

test('a MariaDB client session appears live and disappears on disconnect', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('sessions-table')).toBeVisible();
  // The WASM client sets data-state="live" once the websocket snapshot arrived.
  await expect(page.getByTestId('stream-status')).toHaveAttribute('data-state', 'live', {
    timeout: 15_000,
  });

  const client = connect();
  const id = await client.connectionId();

  const row = sessionRow(page, id);
  await expect(row).toBeVisible({ timeout: 5_000 });
  await expect(row.getByTestId('session-user')).toHaveText(dbUser);

  await client.close();
  await expect(row).toHaveCount(0, { timeout: 5_000 });
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the first paint is server-rendered', async ({ page }) => {
    const client = connect();
    const id = await client.connectionId();

    await page.goto('/');
    await expect(page.getByTestId('sessions-table')).toBeVisible();
    const row = sessionRow(page, id);
    await expect(row).toHaveCount(1);
    await expect(row.getByTestId('session-user')).toHaveText(dbUser);
  });
});
