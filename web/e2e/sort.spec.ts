import { expect, test } from './helpers/fixtures';
import { dbUser, ensureUsers, marker, users, type MariaDBClient } from './helpers/mariadb';
import { api, gotoLive, shownOrder } from './helpers/portico';
import type { Page } from '@playwright/test';

// Sorting by the column headers, in the browser, with the order in the URL.

test.beforeAll(async () => {
  await ensureUsers();
});

function th(page: Page, key: string) {
  return page.locator(`#sessions-table th[data-sort-key="${key}"]`);
}

async function expectSorted(page: Page, key: string, dir: 'ascending' | 'descending') {
  await expect(th(page, key)).toHaveAttribute('aria-sort', dir);
  for (const other of ['id', 'user', 'queries', 'idle'].filter((k) => k !== key)) {
    await expect(th(page, other)).toHaveAttribute('aria-sort', 'none');
  }
}

/** The numbers in a column, in the order the table shows them. */
async function column(page: Page, testid: string): Promise<number[]> {
  return page
    .locator(`#session-rows tr[data-testid="session-row"]:not(.row-removed) [data-testid="${testid}"]`)
    .evaluateAll((tds) => tds.map((td) => Number(td.textContent)));
}

test('clicking a header sorts by it, again reverses it, and the URL and a reload keep it', async ({
  page,
  clients,
}) => {
  const m = marker('sort');
  // Three users; the marker is each one's last statement, so searching for
  // it shows just these sessions.
  const opened: { client: MariaDBClient; id: string }[] = [];
  for (const who of [users.bob, { user: dbUser, password: undefined }, users.alice]) {
    const o = await clients.connect({ user: who.user, password: who.password });
    await o.client.query(`SELECT '${m}'`);
    opened.push(o);
  }
  const [bob, max, alice] = opened.map((o) => o.id);
  const ids = [bob, max, alice];

  await gotoLive(page, `/?q=${m}`);
  await expect.poll(() => shownOrder(page, ids)).toEqual([bob, max, alice]);
  await expectSorted(page, 'id', 'ascending');

  await page.getByTestId('sort-user').click();
  await expectSorted(page, 'user', 'ascending');
  await expect(page).toHaveURL(`/?q=${m}&sort=user`);
  await expect.poll(() => shownOrder(page, ids)).toEqual([alice, bob, max]);

  await page.getByTestId('sort-user').click();
  await expectSorted(page, 'user', 'descending');
  await expect(page).toHaveURL(`/?q=${m}&sort=-user`);
  await expect.poll(() => shownOrder(page, ids)).toEqual([max, bob, alice]);

  // The id is numeric, but starts ascending; again reverses it.
  await page.getByTestId('sort-id').click();
  await expectSorted(page, 'id', 'ascending');
  await expect(page).toHaveURL(`/?q=${m}`);
  await page.getByTestId('sort-id').click();
  await expectSorted(page, 'id', 'descending');
  await expect(page).toHaveURL(`/?q=${m}&sort=-id`);
  await expect.poll(() => shownOrder(page, ids)).toEqual([alice, max, bob]);

  // The server renders the same order; the live table keeps it.
  await page.reload();
  await expectSorted(page, 'id', 'descending');
  expect(await shownOrder(page, ids)).toEqual([alice, max, bob]);
  await expect(page.getByTestId('stream-status')).toHaveAttribute('data-state', 'live', { timeout: 15_000 });
  await expect.poll(() => shownOrder(page, ids)).toEqual([alice, max, bob]);
  // The sort links carry the rest of the view.
  await expect(page.getByTestId('sort-user')).toHaveAttribute('href', `/?q=${m}&sort=user`);
});

test('numeric columns sort the largest first, then the other way', async ({ page, clients }) => {
  const m = marker('num');
  const opened: { client: MariaDBClient; id: string }[] = [];
  // Different numbers of queries, the most first; the marker is each one's
  // last statement, so the first to finish has been idle the longest. Idle
  // times count in tenths of a second (as MaxScale's do) and equal ones sort
  // by id: each session finishes once the one before has been idle a while.
  for (const extra of [4, 2, 0]) {
    const o = await clients.connect();
    for (let i = 0; i < extra; i++) await o.client.query(`SELECT ${i}`);
    const before = opened.at(-1);
    if (before) {
      await expect
        .poll(async () => (await api.session(before.id))!.attributes.idle as number, { intervals: [100] })
        .toBeGreaterThanOrEqual(0.3);
    }
    await o.client.query(`SELECT '${m}'`);
    opened.push(o);
  }
  const ids = opened.map((o) => o.id);
  await gotoLive(page, `/?q=${m}`);
  await expect.poll(() => shownOrder(page, ids)).toEqual(ids);

  for (const key of ['queries', 'idle', 'io', 'in', 'out']) {
    await page.getByTestId(`sort-${key}`).click();
    await expectSorted(page, key, 'descending');
    await expect(page).toHaveURL(`/?q=${m}&sort=-${key}`);
  }
  await page.getByTestId('sort-queries').click();
  await expectSorted(page, 'queries', 'descending');
  await expect.poll(() => shownOrder(page, ids)).toEqual(ids);
  const counts = await column(page, 'session-queries');
  expect(counts).toEqual([...counts].sort((a, b) => b - a));
  await page.getByTestId('sort-queries').click();
  await expectSorted(page, 'queries', 'ascending');
  await expect(page).toHaveURL(`/?q=${m}&sort=queries`);
  await expect.poll(() => shownOrder(page, ids)).toEqual([...ids].reverse());

  await page.getByTestId('sort-idle').click();
  await expectSorted(page, 'idle', 'descending');
  await expect.poll(() => shownOrder(page, ids)).toEqual(ids);
  const idles = await column(page, 'session-idle');
  expect(idles).toEqual([...idles].sort((a, b) => b - a));
});

test('sorting the whole table by a text column keeps it sorted', async ({ page, clients }) => {
  await Promise.all([
    clients.connect({ ...users.alice }),
    clients.connect({ ...users.bob }),
    clients.connect(),
  ]);
  await gotoLive(page, '/?sort=-user');
  await expectSorted(page, 'user', 'descending');
  const titles = await page
    .locator('#session-rows tr[data-testid="session-row"] [data-testid="session-user"]')
    .evaluateAll((tds) => tds.map((td) => td.getAttribute('title') ?? ''));
  const names = titles.map((t) => t.split('@')[0]);
  expect(names.length).toBeGreaterThanOrEqual(3);
  expect(names).toEqual([...names].sort().reverse());
});

test('every column header sorts, and says so', async ({ page }) => {
  await gotoLive(page, '/');
  const keys = ['id', 'user', 'service', 'server', 'state', 'connected', 'idle', 'io', 'in', 'out', 'queries', 'statement'];
  await expect(page.locator('#sessions-table th[data-sort-key]')).toHaveCount(keys.length);
  for (const key of keys) {
    const numeric = ['idle', 'io', 'in', 'out', 'queries'].includes(key);
    // The id is sorted already: a click reverses it.
    const first = key === 'id' || numeric ? 'descending' : 'ascending';
    await page.getByTestId(`sort-${key}`).click();
    await expectSorted(page, key, first);
    await expect(page).toHaveURL(first === 'descending' ? `/?sort=-${key}` : `/?sort=${key}`);
    await page.getByTestId(`sort-${key}`).click();
    await expectSorted(page, key, first === 'descending' ? 'ascending' : 'descending');
  }
});
