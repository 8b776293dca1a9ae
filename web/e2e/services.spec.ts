import type { Page } from '@playwright/test';
import { expect, test } from './helpers/fixtures';
import { otherListenerPort } from './helpers/mariadb';
import { OwnPortico, api, gotoLive, rowIDs, serviceOf, sessionRow } from './helpers/portico';

// The services page: the configured services with live session counts, each
// linking to the sessions table filtered to it.

function serviceRow(page: Page, name: string) {
  return page.locator(`[data-testid="service-row"][data-service="${name}"]`);
}

async function apiCounts(): Promise<Record<string, number>> {
  const counts: Record<string, number> = { 'E2E-Router': 0, 'E2E-Other': 0 };
  for (const s of await api.sessions()) counts[serviceOf(s)] = (counts[serviceOf(s)] ?? 0) + 1;
  return counts;
}

async function expectCountsMatchAPI(page: Page) {
  await expect
    .poll(async () => {
      const want = await apiCounts();
      const got: Record<string, number> = {};
      for (const name of Object.keys(want)) {
        got[name] = Number(await serviceRow(page, name).getByTestId('service-sessions').textContent());
      }
      return JSON.stringify(got) === JSON.stringify(want) ? 'match' : `page ${JSON.stringify(got)} API ${JSON.stringify(want)}`;
    })
    .toBe('match');
}

test('services show live session counts and link to their sessions', async ({ page, clients }) => {
  await gotoLive(page, '/services');
  await expect(page).toHaveTitle('Services · Portico');
  await expect(page.getByTestId('nav-services')).toHaveAttribute('aria-current', 'page');
  await expect(page.getByTestId('nav-sessions')).not.toHaveAttribute('aria-current', /.*/);
  await expect(page.getByTestId('service-row')).toHaveCount(2);
  await expect(page.getByTestId('service-row').getByTestId('service-link')).toHaveText(['E2E-Router', 'E2E-Other']);
  const other = serviceRow(page, 'E2E-Other');
  await expect(other).toContainText('readconnroute');
  await expect(other).toContainText('mariadb-alt');
  await expect(other).toContainText(`E2E-Other-Listener 127.0.0.1:${otherListenerPort}`);
  await expect(other.locator('.server')).toHaveAttribute('title', '127.0.0.1:13307');
  await expectCountsMatchAPI(page);

  // Counts follow sessions live, per service.
  const before = await apiCounts();
  const a = await clients.connect({ port: otherListenerPort });
  const b = await clients.connect({ port: otherListenerPort });
  await expect(other.getByTestId('service-sessions')).toHaveText(String(before['E2E-Other'] + 2));
  await expectCountsMatchAPI(page);
  await b.client.close();
  await expect(other.getByTestId('service-sessions')).toHaveText(String(before['E2E-Other'] + 1));
  await expectCountsMatchAPI(page);

  // The link opens the sessions filtered to the service.
  await other.getByTestId('service-link').click();
  await expect(page).toHaveURL('/?service=E2E-Other');
  await expect(page.getByTestId('filter-service')).toHaveValue('E2E-Other');
  await expect(page.getByTestId('nav-sessions')).toHaveAttribute('aria-current', 'page');
  await expect(page.getByTestId('stream-status')).toHaveAttribute('data-state', 'live', { timeout: 15_000 });
  await expect(sessionRow(page, a.id)).toBeVisible();
  const wanted = (await api.sessions())
    .filter((s) => serviceOf(s) === 'E2E-Other')
    .map((s) => s.id)
    .sort((x, y) => Number(x) - Number(y));
  await expect.poll(() => rowIDs(page)).toEqual(wanted);

  // The count is a link too.
  await page.goto('/services');
  await serviceRow(page, 'E2E-Router').getByTestId('service-sessions').click();
  await expect(page).toHaveURL('/?service=E2E-Router');
  await expect(page.getByTestId('filter-service')).toHaveValue('E2E-Router');
});

test('servers show what the monitor found, as the API does', async ({ page, clients }) => {
  // E2E-Monitor watches mariadb-test. Nothing watches mariadb-alt: it is
  // Down until a session reaches it, then what that session found.
  await clients.connect({ port: otherListenerPort });
  const state = (service: string) => serviceRow(page, service).getByTestId('server-state');
  await expect(async () => {
    await page.goto('/services');
    await expect(state('E2E-Router')).toHaveText('Master, Running', { timeout: 500 });
  }).toPass();
  await expect(state('E2E-Router')).toHaveClass(/badge-up/);
  await expect(state('E2E-Other')).toHaveText('Running');

  const res = await api.fetch('/v1/servers');
  expect(res.status).toBe(200);
  const servers = ((await res.json()) as { data: { id: string; attributes: { state: string } }[] }).data;
  const byName = Object.fromEntries(servers.map((s) => [s.id, s.attributes.state]));
  expect(byName).toEqual({ 'mariadb-test': 'Master, Running', 'mariadb-alt': 'Running' });

  const mon = await api.fetch('/v1/monitors/E2E-Monitor');
  expect(mon.status).toBe(200);
  const doc = (await mon.json()) as { data: { relationships: { servers: { data: { id: string }[] } } } };
  expect(doc.data.relationships.servers.data.map((s) => s.id)).toEqual(['mariadb-test']);
});

test('server states change on the page without a reload', async ({ page, clients }, testInfo) => {
  // A Portico of its own, so that no session has reached mariadb-alt yet.
  const portico = await OwnPortico.create({});
  await portico.start();
  try {
    await page.goto(portico.url + '/services');
    const alt = serviceRow(page, 'E2E-Other').getByTestId('server-state');
    await expect(alt).toHaveText('Down');
    await expect(alt).toHaveClass(/badge-down/);
    await clients.connect({ port: portico.otherListenerPort });
    await expect(alt).toHaveText('Running', { timeout: 10_000 });
    await expect(alt).toHaveClass(/badge-up/);
  } finally {
    if (testInfo.status !== testInfo.expectedStatus) {
      await testInfo.attach('portico.log', { body: portico.logText, contentType: 'text/plain' });
    }
    await portico.dispose();
  }
});
