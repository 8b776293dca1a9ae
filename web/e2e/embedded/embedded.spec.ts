import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { expect, test, type Page } from '@playwright/test';
import { adminPassword, adminUser, expectLive } from '../helpers/portico';
import { MariaDBClient, listenerPort } from '../helpers/mariadb';

// What someone who just ran `go tool task run` without MariaDB sees: the
// dashboard of the embedded database's demo sessions, and their own client
// among them within a second or so. embedded/run.sh starts bin/embeddb,
// Portico and `portico load --sessions 45`.

// Signs in through the form, as a person would, without the suite's Basic
// credentials.
test.use({ extraHTTPHeaders: {} });

async function signIn(page: Page) {
  await page.goto('/');
  await expect(page.getByTestId('login-form')).toBeVisible();
  await page.getByTestId('login-user').fill(adminUser);
  await page.getByTestId('login-password').fill(adminPassword);
  await page.getByTestId('login-submit').click();
  await expect(page.getByTestId('sessions-table')).toBeVisible();
  await expectLive(page);
}

function hasMariaDBClient(): boolean {
  try {
    execFileSync(process.env.PORTICO_MARIADB_CLIENT ?? 'mariadb', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('the demo sessions, then a new connection, on the embedded database', async ({ page }) => {
  await signIn(page);
  // portico load keeps 45 open; churn replaces a few at a time.
  await expect
    .poll(async () => Number(await page.getByTestId('session-count').textContent()), { timeout: 30_000 })
    .toBeGreaterThanOrEqual(40);
  // The load logs in as the demo accounts, never as maxuser: a maxuser row
  // is ours.
  const ours = page.locator('tr[data-testid="session-row"]', {
    has: page.getByTestId('session-user').getByText(/^maxuser@/),
  });
  await expect(ours).toHaveCount(0);

  // The mariadb client where there is one (CI installs it); otherwise
  // go-sql-driver, through portico load's one session as maxuser
  // (PORTICO_MARIADB_CLIENT=none tries that here).
  let client: MariaDBClient | undefined;
  let load: ChildProcess | undefined;
  if (hasMariaDBClient()) {
    client = MariaDBClient.spawn({ port: listenerPort, user: 'maxuser', password: 'maxpwd' });
    // Answered means logged in: a refused login fails here, with the
    // client's message.
    await client.query('SELECT 1').catch((err) => {
      throw new Error(`${err}: ${client?.errors}`);
    });
  } else {
    load = spawn(
      process.env.PORTICO_BINARY ?? '../../bin/portico',
      ['load', '--addr', `127.0.0.1:${listenerPort}`, '--sessions', '1', '--churn', '0',
        '--users', 'maxuser:maxpwd', '--summary', '0', '--log-level', 'warn'],
      { stdio: 'inherit' },
    );
  }
  try {
    // The table draws only the rows in view, and ours, the newest, sorts
    // last by id: look for it as a person would, by its user.
    await page.getByTestId('search').fill('maxuser');
    await expect(ours.first()).toBeVisible({ timeout: 5_000 });
    await expect(ours.first().getByTestId('session-service')).toHaveText('Read-Connection-Router');
    await expect(ours.first().getByTestId('session-server')).toHaveText(/^embedded #\d+$/);
  } finally {
    await client?.kill();
    load?.kill('SIGINT');
  }
});
