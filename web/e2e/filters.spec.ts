import type { Page } from '@playwright/test';
import { expect, test } from './helpers/fixtures';
import { ensureUsers, marker, otherListenerPort, users } from './helpers/mariadb';
import { api, gotoLive, rowIDs, sessionRow, shownOrder } from './helpers/portico';

// The search box and the filters: applied at once in the browser, kept in
// the URL, and rendered by the server on a reload.

test.beforeAll(async () => {
  await ensureUsers();
});

/** Alice on E2E-Router and Bob on E2E-Other, both last running SELECT 'm'. */
async function twoSessions(clients: import('./helpers/mariadb').ClientPool, m: string) {
  const a = await clients.connect({ ...users.alice });
  const b = await clients.connect({ ...users.bob, port: otherListenerPort });
  await a.client.query(`SELECT '${m}' AS tag`);
  await b.client.query(`SELECT '${m}' AS tag`);
  return { alice: a.id, bob: b.id };
}

async function expectShown(page: Page, ids: string[], want: string[]) {
  await expect.poll(() => shownOrder(page, ids)).toEqual(want);
}

test('the search matches id, user, service, server, state and statement, in any case', async ({ page, clients }) => {
  const m = marker('search');
  const { alice, bob } = await twoSessions(clients, m);
  const ids = [alice, bob];
  await gotoLive(page, '/');
  await expectShown(page, ids, [alice, bob]);
  const search = page.getByTestId('search');

  await search.fill(m.toUpperCase());
  await expectShown(page, ids, [alice, bob]);
  await expect(page).toHaveURL(`/?q=${m.toUpperCase()}`);
  // Only these two have the marker.
  await expect.poll(() => rowIDs(page)).toEqual([alice, bob]);
  const total = (await api.sessions()).length;
  await expect(page.getByTestId('shown-count')).toHaveText(`2 of ${total} shown`);

  for (const [q, want] of [
    ['E2E_ALICE', [alice]], // user
    ['e2e-other', [bob]], // service
    ['MARIADB-ALT', [bob]], // backend server
    ['Ready', [alice, bob]], // state
    [`'${m}' as TAG`, [alice, bob]], // statement
  ] as const) {
    await search.fill(q);
    await expectShown(page, ids, [...want]);
  }
  // The id (other rows may contain the digits elsewhere).
  await search.fill(bob);
  await expect(sessionRow(page, bob)).toBeVisible();

  await search.fill('no session has this text');
  await expect.poll(() => rowIDs(page)).toEqual([]);
  await expect(page.getByTestId('shown-count')).toHaveText(`0 of ${total} shown`);

  await search.fill('');
  await expect(page).toHaveURL('/');
  await expectShown(page, ids, [alice, bob]);
  await expect(page.getByTestId('shown-count')).toHaveText(`${total} shown`);

  // Any text survives the trip through the URL.
  const odd = `${m} & 'a+b' %20 #x ü`;
  await search.fill(odd);
  await expect(page).toHaveURL((url) => url.searchParams.get('q') === odd);
  await page.reload();
  await expect(search).toHaveValue(odd);
  await expect(page.getByTestId('stream-status')).toHaveAttribute('data-state', 'live', { timeout: 15_000 });
  await expect(search).toHaveValue(odd);
  await expect.poll(() => rowIDs(page)).toEqual([]);
});

test('filters apply at once, are kept in the URL and survive a reload', async ({ page, clients }) => {
  const m = marker('filter');
  const { alice, bob } = await twoSessions(clients, m);
  const ids = [alice, bob];
  await gotoLive(page, '/');
  await expectShown(page, ids, [alice, bob]);

  await page.getByTestId('filter-service').selectOption('E2E-Other');
  await expect(page).toHaveURL('/?service=E2E-Other');
  await expectShown(page, ids, [bob]);
  const services = await page
    .locator('#session-rows tr[data-testid="session-row"]:not(.row-removed) [data-testid="session-service"]')
    .allTextContents();
  expect(new Set(services)).toEqual(new Set(['E2E-Other']));

  await page.getByTestId('filter-service').selectOption('');
  await page.getByTestId('filter-server').selectOption('mariadb-test');
  await expect(page).toHaveURL('/?server=mariadb-test');
  await expectShown(page, ids, [alice]);

  await page.getByTestId('filter-server').selectOption('mariadb-alt');
  await page.getByTestId('filter-state').selectOption('stopping');
  await expect(page).toHaveURL('/?server=mariadb-alt&state=stopping');
  await expectShown(page, ids, []);
  await page.getByTestId('filter-state').selectOption('ready');
  await expectShown(page, ids, [bob]);

  // The user filter is exact, and suggests the users it knows.
  await page.getByTestId('filter-server').selectOption('');
  await page.getByTestId('filter-user').focus();
  await expect
    .poll(() => page.locator('#known-users option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value)))
    .toEqual(expect.arrayContaining([users.alice.user, users.bob.user]));
  await page.getByTestId('filter-user').fill('e2e_ali');
  await expectShown(page, ids, []);
  await page.getByTestId('filter-user').fill(users.alice.user);
  await expectShown(page, ids, [alice]);
  await expect(page).toHaveURL(`/?state=ready&user=${users.alice.user}`);

  // Everything at once, with a sort.
  await page.getByTestId('filter-user').fill(users.bob.user);
  await page.getByTestId('filter-service').selectOption('E2E-Other');
  await page.getByTestId('filter-server').selectOption('mariadb-alt');
  await page.getByTestId('search').fill(m);
  await page.getByTestId('sort-user').click();
  const url = `/?q=${m}&service=E2E-Other&server=mariadb-alt&state=ready&user=${users.bob.user}&sort=user`;
  await expect(page).toHaveURL(url);
  await expect.poll(() => rowIDs(page)).toEqual([bob]);
  const total = (await api.sessions()).length;
  await expect(page.getByTestId('shown-count')).toHaveText(`1 of ${total} shown`);

  await page.reload();
  await expect(page).toHaveURL(url);
  await expect(page.getByTestId('search')).toHaveValue(m);
  await expect(page.getByTestId('filter-service')).toHaveValue('E2E-Other');
  await expect(page.getByTestId('filter-server')).toHaveValue('mariadb-alt');
  await expect(page.getByTestId('filter-state')).toHaveValue('ready');
  await expect(page.getByTestId('filter-user')).toHaveValue(users.bob.user);
  await expect(page.locator('th[data-sort-key="user"]')).toHaveAttribute('aria-sort', 'ascending');
  expect(await rowIDs(page)).toEqual([bob]);
  await expect(page.getByTestId('stream-status')).toHaveAttribute('data-state', 'live', { timeout: 15_000 });
  await expect.poll(() => rowIDs(page)).toEqual([bob]);
  await expect(page.getByTestId('shown-count')).toHaveText(`1 of ${total} shown`);

  // A new session that matches shows up in the filtered view; others don't.
  const b2 = await clients.connect({ ...users.bob, port: otherListenerPort });
  const a2 = await clients.connect({ ...users.alice, port: otherListenerPort });
  await b2.client.query(`SELECT '${m}' AS again`);
  await a2.client.query(`SELECT '${m}' AS again`);
  await expect.poll(() => rowIDs(page)).toEqual([bob, b2.id]);
  await expect(sessionRow(page, a2.id)).toHaveCount(0);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('a filtered URL is rendered by the server, and the form applies filters', async ({ page, clients }) => {
    const m = marker('nojs');
    const { alice, bob } = await twoSessions(clients, m);
    await page.goto(`/?q=${m}&service=E2E-Router&sort=-id`);
    await expect(page.getByTestId('search')).toHaveValue(m);
    await expect(page.getByTestId('filter-service')).toHaveValue('E2E-Router');
    expect(await rowIDs(page)).toEqual([alice]);
    const total = (await api.sessions()).length;
    await expect(page.getByTestId('shown-count')).toHaveText(`1 of ${total} shown`);
    await expect(page.locator('th[data-sort-key="id"]')).toHaveAttribute('aria-sort', 'descending');

    // The form submits as GET, keeping the sort.
    await page.getByTestId('filter-service').selectOption('');
    await page.locator('#filters button[type="submit"]').click();
    await expect(page).toHaveURL(new RegExp(`/\\?q=${m}&service=&server=&state=&user=&sort=-id$`));
    expect(await rowIDs(page)).toEqual([bob, alice]);
  });
});
