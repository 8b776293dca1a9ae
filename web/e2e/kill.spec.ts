import { expect, test } from './helpers/fixtures';
import { dbUser, marker } from './helpers/mariadb';
import { api, gotoLive, sessionRow } from './helpers/portico';

// Killing sessions from the dashboard: the dialog, DELETE /v1/sessions/ID,
// and the real client connection closing.

const lostConnection = /gone away|Lost connection|server closed|Broken pipe|Can't connect|Error reading/i;

test('kill now: the dialog asks, the session really ends, the row goes away', async ({ page, clients }) => {
  const { client, id } = await clients.connect();
  const thread = await client.backendThreadId();
  const m = marker('kill');
  await client.query(`SELECT '${m}' AS doomed`);

  await gotoLive(page, `/?q=${m}`);
  const row = sessionRow(page, id);
  const dialog = page.getByTestId('kill-dialog');
  await expect(dialog).toBeHidden();

  // Cancel leaves the session alone.
  await row.getByTestId('kill-button').click();
  await expect(dialog).toBeVisible();
  await expect(dialog.getByTestId('kill-id')).toHaveText(id);
  await expect(dialog.getByTestId('kill-identity')).toHaveText(
    `${dbUser}@127.0.0.1 on E2E-Router (mariadb-test #${thread}) — SELECT '${m}' AS doomed`,
  );
  await expect(dialog.getByTestId('kill-now')).toBeChecked();
  await expect(dialog.getByTestId('kill-ttl')).not.toBeChecked();
  await expect(dialog.getByTestId('kill-error')).toBeHidden();
  await expect(dialog.getByTestId('kill-confirm')).toBeFocused();
  await dialog.getByTestId('kill-cancel').click();
  await expect(dialog).toBeHidden();
  expect(await client.query(`SELECT '${m}' AS alive`)).toMatch(/^alive$/m);
  expect(await api.session(id)).not.toBeNull();

  await row.getByTestId('kill-button').click();
  await expect(dialog).toBeVisible();
  const [del] = await Promise.all([
    page.waitForRequest((r) => r.method() === 'DELETE'),
    dialog.getByTestId('kill-confirm').click(),
  ]);
  expect(new URL(del.url()).pathname + new URL(del.url()).search).toBe(`/v1/sessions/${id}`);
  await expect(dialog).toBeHidden();
  await expect(page.getByTestId('toast')).toHaveText(`Session ${id} killed.`);
  await expect(row).toHaveCount(0, { timeout: 5_000 });
  await expect.poll(() => api.session(id)).toBeNull();
  expect(await client.expectDisconnected()).toMatch(lostConnection);
});

test('kill after N s idle: a running query finishes, then the idle session is killed', async ({ page, clients }) => {
  const { client, id } = await clients.connect();
  await gotoLive(page, '/');
  const row = sessionRow(page, id);
  await expect(row).toBeVisible();

  const slept = client.start('SELECT SLEEP(3) AS slept')(10_000);
  let answered = false;
  void slept.then(() => (answered = true));
  await expect(row.getByTestId('session-statement').locator('span.dur.running')).toBeVisible();

  const dialog = page.getByTestId('kill-dialog');
  await row.getByTestId('kill-button').click();
  await dialog.getByTestId('kill-ttl').check();
  await dialog.getByTestId('kill-ttl-seconds').fill('1');
  const [del] = await Promise.all([
    page.waitForRequest((r) => r.method() === 'DELETE'),
    dialog.getByTestId('kill-confirm').click(),
  ]);
  expect(new URL(del.url()).search).toBe('?ttl=1');
  await expect(dialog).toBeHidden();
  await expect(page.getByTestId('toast')).toHaveText(`Session ${id} will be killed after 1 s idle.`);
  expect(answered, 'the kill was asked for while the query ran').toBe(false);

  // The query runs to its end: the session was not killed while busy.
  const out = await slept;
  expect(out).toMatch(/^slept\n0$/m);
  const answeredAt = Date.now();
  await expect(row).toBeVisible();

  // Then, once idle for 1 s, it is killed.
  let goneAt = 0;
  await expect
    .poll(
      async () => {
        const s = await api.session(id);
        if (s === null || s.attributes.state === 'Stopping session') goneAt ||= Date.now();
        return goneAt > 0;
      },
      { timeout: 6_000, intervals: [50] },
    )
    .toBe(true);
  const idleFor = goneAt - answeredAt;
  expect(idleFor, 'killed only after 1 s idle').toBeGreaterThanOrEqual(800);
  expect(idleFor).toBeLessThan(4_000);
  await expect(row).toHaveCount(0, { timeout: 5_000 });
  expect(await client.expectDisconnected()).toMatch(lostConnection);
});

test('a kill that fails says why and keeps the dialog open', async ({ page, clients }) => {
  const { client, id } = await clients.connect();
  await gotoLive(page, '/');
  const dialog = page.getByTestId('kill-dialog');
  await sessionRow(page, id).getByTestId('kill-button').click();
  await expect(dialog).toBeVisible();

  // A ttl must be a whole number of seconds; nothing is sent.
  let deletes = 0;
  page.on('request', (r) => {
    if (r.method() === 'DELETE') deletes++;
  });
  // Typing a number of seconds picks "after N s idle".
  await dialog.getByTestId('kill-ttl-seconds').focus();
  await expect(dialog.getByTestId('kill-ttl')).toBeChecked();
  await dialog.getByTestId('kill-ttl-seconds').fill('0');
  await dialog.getByTestId('kill-confirm').click();
  await expect(dialog.getByTestId('kill-error')).toBeVisible();
  await expect(dialog.getByTestId('kill-error')).toHaveText('Enter a whole number of seconds, 1 or more.');
  await expect(dialog).toBeVisible();
  expect(deletes).toBe(0);

  // The session ends while the dialog is open: the kill is refused (404).
  await dialog.getByTestId('kill-now').check();
  await client.close();
  await expect.poll(() => api.session(id)).toBeNull();
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'DELETE'),
    dialog.getByTestId('kill-confirm').click(),
  ]);
  expect(res.status()).toBe(404);
  await expect(dialog.getByTestId('kill-error')).toBeVisible();
  await expect(dialog.getByTestId('kill-error')).toContainText('The kill failed. HTTP 404');
  await expect(dialog).toBeVisible();
  await expect(dialog.getByTestId('kill-confirm')).toBeEnabled();
  await expect(page.getByTestId('toast')).toBeHidden();

  await dialog.getByTestId('kill-cancel').click();
  await expect(dialog).toBeHidden();
});

test('kill from the detail page', async ({ page, clients }) => {
  const { client, id } = await clients.connect();
  await gotoLive(page, `/sessions/${id}`);
  const dialog = page.getByTestId('kill-dialog');
  await page.getByTestId('kill-button').click();
  await expect(dialog).toBeVisible();
  await expect(dialog.getByTestId('kill-id')).toHaveText(id);
  await expect(dialog.getByTestId('kill-identity')).toContainText(`${dbUser}@127.0.0.1 on E2E-Router`);
  await dialog.getByTestId('kill-confirm').click();
  await expect(dialog).toBeHidden();
  await expect(page.getByTestId('toast')).toHaveText(`Session ${id} killed.`);
  await expect(page.getByTestId('detail-gone')).toBeVisible();
  expect(await client.expectDisconnected()).toMatch(lostConnection);
});
