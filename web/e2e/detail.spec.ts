import { expect, test } from './helpers/fixtures';
import { ensureUsers, marker, users } from './helpers/mariadb';
import { api, gotoLive, sessionRow } from './helpers/portico';

// A session's own page: its fields, statements and attributes, its log
// levels (a round trip through the REST API), and it stays live.

test.beforeAll(async () => {
  await ensureUsers();
});

test('the detail page shows the session, its statements and attributes, and its end', async ({ page, clients }) => {
  const { client, id } = await clients.connect({ ...users.alice, database: 'portico_demo' });
  const thread = await client.backendThreadId();
  const m = marker('detail');
  await client.query(`SELECT '${m}-first' AS first`);
  await client.query(`SELECT '${m}-second' AS second`);
  const s = await api.session(id);
  expect(s).not.toBeNull();

  // From the table: the id links to the page.
  await gotoLive(page, `/?q=${m}`);
  await sessionRow(page, id).getByTestId('session-id').getByRole('link').click();
  await expect(page).toHaveURL(`/sessions/${id}`);
  await expect(page).toHaveTitle(`Session ${id} · Portico`);
  await expect(page.getByTestId('stream-status')).toHaveAttribute('data-state', 'live', { timeout: 15_000 });
  await expect(page.getByTestId('nav-sessions')).toHaveAttribute('aria-current', 'page');

  const d = page.locator('#detail-root').getByTestId('session-detail');
  await expect(d).toHaveAttribute('data-session-id', id);
  await expect(d.getByTestId('detail-id')).toHaveText(id);
  await expect(d.getByTestId('detail-user')).toHaveText(users.alice.user);
  await expect(d.getByTestId('detail-remote')).toHaveText('127.0.0.1');
  await expect(d.getByTestId('detail-port')).toHaveText(String(s!.attributes.port));
  await expect(d.getByTestId('detail-service')).toHaveText('E2E-Router');
  await expect(d.getByTestId('detail-database')).toHaveText('portico_demo');
  await expect(d.getByTestId('detail-state')).toContainText('ready');
  await expect(d.getByTestId('detail-state')).toContainText('Session ready for routing');
  await expect(d.getByTestId('detail-connected')).toHaveText(String(s!.attributes.connected));
  await expect(d.getByTestId('detail-idle')).toHaveText(/^\d+\.\d$/);
  await expect(d.getByTestId('detail-io')).toHaveText(/^\d+$/);
  await expect(d.getByTestId('detail-bytes')).toHaveText(/^\d+(\.\d)? k?B \/ \d+(\.\d)? k?B$/);
  await expect(d.getByTestId('detail-packets')).toHaveText(/^[1-9]\d* \/ [1-9]\d*$/);
  await expect(d.getByTestId('detail-queries')).toHaveText(/^[1-9]\d*$/);
  await expect(d.getByTestId('detail-memory')).toHaveText(/^\d+(\.\d)? [kM]?B$/);
  await expect(d.getByTestId('detail-connections')).toContainText('mariadb-test');
  await expect(d.getByTestId('detail-connections').locator('tbody tr')).toHaveText([`mariadb-test${thread}`]);

  // The last statement, and the retained ones newest first.
  await expect(d.getByTestId('detail-statement')).toContainText(`SELECT '${m}-second' AS second`);
  await expect(d.getByTestId('detail-statement')).toContainText(/took \d+ ms/);
  const stmts = d.getByTestId('detail-statements').locator('tbody tr');
  await expect(stmts.nth(0)).toContainText(`SELECT '${m}-second' AS second`);
  await expect(stmts.nth(0)).toContainText('COM_QUERY');
  await expect(stmts.nth(0)).toContainText('mariadb-test');
  await expect(stmts.nth(1)).toContainText(`SELECT '${m}-first' AS first`);

  // The client's connection attributes.
  const attrs = d.getByTestId('detail-attributes');
  await expect(attrs.locator('tr', { hasText: '_client_name' })).toContainText('libmariadb');
  await expect(attrs.locator('tr', { hasText: 'program_name' })).toContainText('mysql');

  await page.getByTestId('back').click();
  await expect(page).toHaveURL('/');

  // The page notices when the session ends.
  await page.goBack();
  await expect(page).toHaveURL(`/sessions/${id}`);
  await expect(page.getByTestId('stream-status')).toHaveAttribute('data-state', 'live', { timeout: 15_000 });
  await expect(page.getByTestId('detail-gone')).toHaveCount(0);
  await client.close();
  await expect(page.getByTestId('detail-gone')).toBeVisible();
  await expect(page.getByTestId('detail-gone')).toHaveText('This session has ended.');
  // It keeps showing what it knew.
  await expect(page.getByTestId('detail-id')).toHaveText(id);

  // A reload now finds no session.
  const res = await page.reload();
  expect(res?.status()).toBe(404);
  await expect(page.getByTestId('not-found')).toHaveText(`Session ${id} has ended or never existed.`);
});

test('the detail page follows statements and changes made elsewhere without a reload', async ({ page, clients }) => {
  const { client, id } = await clients.connect();
  const m = marker('follow');
  await client.query(`SELECT '${m}-first' AS first`);
  await gotoLive(page, `/sessions/${id}`);
  const d = page.getByTestId('session-detail');
  await expect(d.getByTestId('detail-statement')).toContainText(`${m}-first`);
  const stmts = d.getByTestId('detail-statements').locator('tbody tr');

  // A statement that takes a while shows up running, then with its time.
  const slept = client.start(`SELECT SLEEP(2) AS '${m}-sleep'`);
  await expect(d.getByTestId('detail-statement')).toContainText(`${m}-sleep`);
  await expect(d.getByTestId('detail-statement')).toContainText(/running for (\d+ ms|\d\.\d s)/);
  await expect(stmts.nth(0)).toContainText('running');
  await slept();
  await expect(d.getByTestId('detail-statement')).toContainText(/took 2\.\d s/);
  await expect(stmts.nth(0)).toContainText(/2\.\d s/);
  await expect(stmts.nth(1)).toContainText(`${m}-first`);

  // The idle time ticks.
  const idle = Number(await d.getByTestId('detail-idle').textContent());
  await expect.poll(async () => Number(await d.getByTestId('detail-idle').textContent())).toBeGreaterThanOrEqual(idle + 1);

  // A log level changed through the REST API shows up.
  await expect(d.getByTestId('log-flag-error')).toBeChecked();
  const res = await api.fetch(`/v1/sessions/${id}`, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ data: { attributes: { parameters: { log_error: false } } } }),
  });
  expect(res.status).toBeLessThan(300);
  await expect(d.getByTestId('log-flag-error')).not.toBeChecked();
});

test('log levels toggle through PATCH and the REST API reflects them', async ({ page, clients }) => {
  const { id } = await clients.connect();
  const before = (await api.session(id))!.attributes.parameters;
  expect(before).toMatchObject({ log_info: false, log_notice: true, log_warning: true, log_error: true });

  await gotoLive(page, `/sessions/${id}`);
  const flags = page.getByTestId('log-flags');
  await expect(flags.getByTestId('log-flag-info')).not.toBeChecked();
  await expect(flags.getByTestId('log-flag-notice')).toBeChecked();
  await expect(flags.getByTestId('log-flag-warning')).toBeChecked();
  await expect(flags.getByTestId('log-flag-error')).toBeChecked();

  const patches: string[] = [];
  page.on('request', (r) => {
    if (r.method() === 'PATCH') patches.push(`${new URL(r.url()).pathname} ${r.postData()}`);
  });

  await flags.getByTestId('log-flag-info').check();
  await expect(page.getByTestId('toast')).toHaveText(`log_info is now on for session ${id}.`);
  await expect.poll(async () => (await api.session(id))!.attributes.parameters.log_info).toBe(true);
  await expect(flags.getByTestId('log-flag-info')).toBeChecked();

  await flags.getByTestId('log-flag-warning').uncheck();
  await expect(page.getByTestId('toast')).toHaveText(`log_warning is now off for session ${id}.`);
  await expect.poll(async () => (await api.session(id))!.attributes.parameters).toMatchObject({
    log_info: true,
    log_notice: true,
    log_warning: false,
    log_error: true,
  });
  expect(patches[0]).toContain(`/v1/sessions/${id} `);
  expect(JSON.parse(patches[0].split(' ').slice(1).join(' '))).toEqual({
    data: { attributes: { parameters: { log_info: true } } },
  });

  // A reload shows the server's state.
  await page.reload();
  await expect(page.getByTestId('log-flag-info')).toBeChecked();
  await expect(page.getByTestId('log-flag-warning')).not.toBeChecked();
});

test('an unknown session is a 404 page', async ({ page }) => {
  for (const id of ['999999999']) {
    const res = await page.goto(`/sessions/${id}`);
    expect(res?.status()).toBe(404);
    await expect(page.getByTestId('not-found')).toHaveText(`Session ${id} has ended or never existed.`);
    await expect(page.getByTestId('nav-sessions')).toBeVisible();
  }
  const res = await page.goto('/no/such/page');
  expect(res?.status()).toBe(404);
  await expect(page.getByTestId('not-found')).toHaveText('/no/such/page is not a page here.');
});

test('a malformed session id is the dashboard 404 page too', async ({ page }) => {
  const res = await page.goto('/sessions/not-a-number');
  expect(res?.status()).toBe(404);
  expect(res?.headers()['content-type']).toMatch(/^text\/html/);
  await expect(page.getByTestId('not-found')).toHaveText('Session not-a-number has ended or never existed.');
});
