import { expectCountsMatchAPI, expect, test } from './helpers/fixtures';
import { dbUser, marker } from './helpers/mariadb';
import { api, gotoLive, rowIDs, sessionRow } from './helpers/portico';

// The sessions table follows real MariaDB clients live, without reloads.

test('a session appears live, is kept up to date, and is struck through then removed when it ends', async ({
  page,
  clients,
}) => {
  await gotoLive(page, '/');
  await expect(page.getByTestId('nav-sessions')).toHaveAttribute('aria-current', 'page');
  await expect(page.getByTestId('nav-services')).not.toHaveAttribute('aria-current', /.*/);
  await expectCountsMatchAPI(page);
  for (const key of ['allocated', 'ready', 'stopping']) {
    await expect(page.getByTestId(`state-count-${key}`).locator('.badge')).toHaveText(key);
  }

  const { client, id } = await clients.connect();
  const row = sessionRow(page, id);
  await expect(row).toBeVisible();
  await expect(row).toHaveClass(/\brow-added\b/);
  await expectCountsMatchAPI(page);

  const thread = await client.backendThreadId();
  await expect(row.getByTestId('session-id')).toHaveText(id);
  await expect(row.getByTestId('session-id').locator('a')).toHaveAttribute('href', `/sessions/${id}`);
  await expect(row.getByTestId('session-user')).toHaveText(`${dbUser}@127.0.0.1`);
  await expect(row.getByTestId('session-user')).toHaveAttribute('title', `${dbUser}@127.0.0.1`);
  await expect(row.getByTestId('session-service')).toHaveText('E2E-Router');
  await expect(row.getByTestId('session-server')).toHaveText(`mariadb-test #${thread}`);
  await expect(row.getByTestId('session-state')).toHaveText('ready');
  await expect(row.getByTestId('session-state').locator('.badge')).toHaveAttribute('title', 'Session ready for routing');
  await expect(row.getByTestId('session-connected')).toHaveText(/^\d\d:\d\d:\d\d$/);
  await expect(row.getByTestId('kill-button')).toHaveAttribute('data-kill', id);
  // The mark runs out.
  await expect(row).not.toHaveClass(/\brow-added\b/, { timeout: 5_000 });

  // Counters and the statement follow the client's queries.
  const queries = Number(await row.getByTestId('session-queries').textContent());
  const m = marker('live');
  await client.query(`SELECT '${m}' AS marker, REPEAT('x', 3000) AS padding`);
  await expect(row).toHaveClass(/\brow-changed\b/);
  await expect(row.getByTestId('session-statement')).toContainText(m);
  await expect(row.getByTestId('session-statement')).toHaveAttribute(
    'title',
    `SELECT '${m}' AS marker, REPEAT('x', 3000) AS padding`,
  );
  await expect(row.getByTestId('session-statement').locator('span.dur')).not.toHaveClass(/\brunning\b/);
  await expect
    .poll(async () => Number(await row.getByTestId('session-queries').textContent()))
    .toBeGreaterThan(queries);
  await expect(row.getByTestId('session-out')).toHaveText(/^\d+(\.\d)? kB$/);

  // A statement that takes a while is shown running, then with its time.
  const slept = client.start('SELECT SLEEP(2) AS slept');
  const stmt = row.getByTestId('session-statement');
  await expect(stmt).toContainText('SELECT SLEEP(2) AS slept');
  await expect(stmt.locator('span.dur.running')).toBeVisible();
  await expect(stmt.locator('span.dur.running')).toHaveText(/^(\d+ ms|[012]\.\d s)$/);
  await slept();
  await expect(stmt.locator('span.dur')).not.toHaveClass(/\brunning\b/);
  await expect(stmt.locator('span.dur')).toHaveText(/^2\.\d s$/);

  // Idle time ticks every second without any change to the session.
  const idle = row.getByTestId('session-idle');
  await expect(idle).toHaveText(/^\d+\.\d$/);
  const idleBefore = Number(await idle.textContent());
  await expect.poll(async () => Number(await idle.textContent()), { timeout: 5_000 }).toBeGreaterThanOrEqual(idleBefore + 1);

  // The chart draws the count once live.
  await expect(page.locator('[data-testid="sessions-chart"] path.line')).toHaveCount(1);
  await expect(page.getByTestId('chart-max')).toHaveText(/^max \d+$/);

  await client.close();
  await expect(row).toHaveClass(/\brow-removed\b/);
  await expect(row).toHaveCount(0, { timeout: 5_000 });
  await expectCountsMatchAPI(page);
});

test('several sessions arrive and leave without a reload', async ({ page, clients }) => {
  await gotoLive(page, '/');
  const opened = await Promise.all([clients.connect(), clients.connect(), clients.connect()]);
  const ids = opened.map((o) => o.id);
  for (const id of ids) await expect(sessionRow(page, id)).toBeVisible();
  await expectCountsMatchAPI(page);
  expect((await rowIDs(page)).filter((id) => ids.includes(id))).toEqual([...ids].sort((a, b) => Number(a) - Number(b)));

  await opened[1].client.close();
  await expect(sessionRow(page, ids[1])).toHaveCount(0, { timeout: 5_000 });
  await expect(sessionRow(page, ids[0])).toBeVisible();
  await expect(sessionRow(page, ids[2])).toBeVisible();
  await expectCountsMatchAPI(page);
  await expect(page.getByTestId('shown-count')).toHaveText(`${(await api.sessions()).length} shown`);
});

test('statements are shown as text, never as markup', async ({ page, clients }) => {
  await gotoLive(page, '/');
  const { client, id } = await clients.connect();
  const hostile = `SELECT '<img src=x id=e2e-xss onerror="document.body.dataset.xss=1"><b>"&amp;\\'` + "' AS hostile";
  await client.query(hostile);
  const stmt = sessionRow(page, id).getByTestId('session-statement');
  await expect(stmt).toContainText('<img src=x id=e2e-xss');
  await expect(stmt).toHaveAttribute('title', hostile);
  await expect(page.locator('#e2e-xss')).toHaveCount(0);
  await expect(page.locator('body')).not.toHaveAttribute('data-xss', /.*/);

  // The server's first paint escapes it too.
  await page.reload();
  await expect(sessionRow(page, id).getByTestId('session-statement')).toHaveAttribute('title', hostile);
  await expect(page.locator('#e2e-xss')).toHaveCount(0);

  // And so does the detail page, first paint and live.
  await page.goto(`/sessions/${id}`);
  await expect(page.getByTestId('detail-statement').locator('pre')).toHaveText(hostile);
  await expect(page.getByTestId('detail-statements').locator('tbody tr').first()).toContainText('<img src=x id=e2e-xss');
  await expect(page.getByTestId('stream-status')).toHaveAttribute('data-state', 'live', { timeout: 15_000 });
  await client.query(`${hostile}, 2 AS again`);
  await expect(page.getByTestId('detail-statement').locator('pre')).toHaveText(`${hostile}, 2 AS again`);
  await expect(page.locator('#e2e-xss')).toHaveCount(0);
  await expect(page.locator('body')).not.toHaveAttribute('data-xss', /.*/);
});

test('a click held while the row changes still clicks', async ({ page, clients }) => {
  // The table redraws as time passes (idle times tick) and as sessions
  // change. A press that spans a redraw (a slow click, a touchpad tap, a
  // busy session) must still open the kill dialog or follow the id link.
  const { client, id } = await clients.connect();
  await gotoLive(page, '/');
  const row = sessionRow(page, id);

  async function holdWhileTheRowChanges(target: ReturnType<typeof sessionRow>, n: number) {
    const box = (await target.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    // Hold while the idle time ticks and the session runs a query.
    const idle = await row.getByTestId('session-idle').textContent();
    await expect(row.getByTestId('session-idle')).not.toHaveText(idle!);
    const queries = await row.getByTestId('session-queries').textContent();
    await client.query(`SELECT ${n} AS meanwhile`);
    await expect(row.getByTestId('session-queries')).not.toHaveText(queries!);
    await expect(row.getByTestId('session-statement')).toContainText(`SELECT ${n} AS meanwhile`);
    await page.mouse.up();
  }

  await holdWhileTheRowChanges(row.getByTestId('kill-button'), 1);
  await expect(page.getByTestId('kill-dialog')).toBeVisible();
  await expect(page.getByTestId('kill-id')).toHaveText(id);
  await page.getByTestId('kill-cancel').click();

  await holdWhileTheRowChanges(row.getByTestId('session-id').getByRole('link'), 2);
  await expect(page).toHaveURL(`/sessions/${id}`);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the first paint is server-rendered', async ({ page, clients }) => {
    const { id } = await clients.connect();

    await page.goto('/');
    await expect(page.getByTestId('sessions-table')).toBeVisible();
    const row = sessionRow(page, id);
    await expect(row).toHaveCount(1);
    await expect(row.getByTestId('session-user')).toHaveText(`${dbUser}@127.0.0.1`);
    await expect(row.getByTestId('session-service')).toHaveText('E2E-Router');
    await expect(page.getByTestId('stream-status')).toHaveAttribute('data-state', 'offline');
    const total = (await api.sessions()).length;
    await expect(page.getByTestId('session-count')).toHaveText(String(total));
    await expect(page.getByTestId('shown-count')).toHaveText(`${total} shown`);
    await expect(page.getByTestId('table-note')).toHaveCount(0);
    // Sorting works as plain links.
    await page.getByTestId('sort-id').click();
    await expect(page).toHaveURL('/?sort=-id');
    await expect(page.locator('th[data-sort-key="id"]')).toHaveAttribute('aria-sort', 'descending');
  });
});
