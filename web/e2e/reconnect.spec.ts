import type { Page, WebSocketRoute } from '@playwright/test';
import { expectCountsMatchAPI, expect, test } from './helpers/fixtures';
import { marker, otherListenerPort as suiteOtherListenerPort } from './helpers/mariadb';
import {
  adminPassword,
  adminUser,
  api,
  expectLive,
  gotoLive,
  OwnPortico,
  portsFromEnv,
  rowIDs,
  sessionRow,
} from './helpers/portico';

// The dashboard survives losing its session stream: the status goes to
// "reconnecting", comes back "live" on its own, and the page then shows
// what changed meanwhile.
//
// A Portico restart: the spec stops and starts a Portico of its own, on free
// ports (or those PORTICO_RESTART_PORTS names: admin, listener, other
// listener), so the suite's Portico keeps running. A dropped connection: Playwright's
// websocket routing closes the stream and refuses new ones for a while.

test.describe('a Portico restart', () => {
  let portico: OwnPortico;
  let listenerPort: number;

  test.beforeEach(async () => {
    portico = await OwnPortico.create({ ports: portsFromEnv('PORTICO_RESTART_PORTS') });
    listenerPort = portico.listenerPort;
    await portico.start();
  });

  test.afterEach(async ({}, testInfo) => {
    if (testInfo.status !== testInfo.expectedStatus) {
      await testInfo.attach('portico.log', { body: portico.logText, contentType: 'text/plain' });
    }
    await portico.dispose();
  });

  test('after a restart the stream reconnects and the table is current', async ({ page, clients }) => {
    const before = await Promise.all([clients.connect({ port: listenerPort }), clients.connect({ port: listenerPort })]);
    await page.goto(portico.url + '/');
    await expect(page.getByTestId('stream-status')).toHaveAttribute('data-state', 'live', { timeout: 15_000 });
    for (const { id } of before) await expect(sessionRow(page, id)).toBeVisible();
    await expect(page.getByTestId('session-count')).toHaveText('2');

    await portico.stop();
    await expect(page.getByTestId('stream-status')).toHaveAttribute('data-state', 'reconnecting');
    await expect(page.getByTestId('stream-status')).toHaveText('reconnecting');
    // Its clients lost their connections with it.
    for (const { client } of before) await client.expectDisconnected();

    await portico.start();
    // New sessions, on the new Portico (their ids may repeat the old ones).
    const after = await Promise.all([
      clients.connect({ port: listenerPort }),
      clients.connect({ port: listenerPort }),
      clients.connect({ port: listenerPort }),
    ]);
    // The client backs off, doubling its wait from 0.5 s: the next attempt
    // comes within about twice the time Portico was away.
    await expect(page.getByTestId('stream-status')).toHaveAttribute('data-state', 'live', { timeout: 20_000 });
    const want = (await portico.api.sessions()).map((s) => s.id).sort((a, b) => Number(a) - Number(b));
    expect(want).toEqual(after.map((a) => a.id).sort((a, b) => Number(a) - Number(b)));
    await expect.poll(() => rowIDs(page)).toEqual(want);
    await expect(page.getByTestId('session-count')).toHaveText('3');
    await expect(page.getByTestId('shown-count')).toHaveText('3 shown');
    await expect(page.locator('#session-rows tr.row-removed')).toHaveCount(0);

    // And it keeps following changes.
    await after[0].client.close();
    await expect.poll(() => rowIDs(page)).toEqual(want.filter((id) => id !== after[0].id));
    await expect(page.getByTestId('session-count')).toHaveText('2');
  });

  test.describe('signed in through the form', () => {
    test.use({ extraHTTPHeaders: {} });

    test('the sign-in survives the restart', async ({ page }) => {
      await page.goto(portico.url + '/');
      await page.getByTestId('login-user').fill(adminUser);
      await page.getByTestId('login-password').fill(adminPassword);
      await page.getByTestId('login-submit').click();
      await expectLive(page);
      await portico.stop();
      await expect(page.getByTestId('stream-status')).toHaveAttribute('data-state', 'reconnecting');
      await portico.start();
      await expectLive(page, 20_000);
      await page.reload();
      await expect(page.getByTestId('sessions-table')).toBeVisible();
      await expect(page.getByTestId('login-form')).toHaveCount(0);
    });
  });
});

/**
 * Routes the page's session streams through Playwright, so that a test can
 * drop them (down) and refuse new ones until up.
 */
async function controlStream(page: Page) {
  const open: WebSocketRoute[] = [];
  const urls: string[] = [];
  let isUp = true;
  await page.routeWebSocket(/\/v1\/sessions\/stream/, (ws) => {
    urls.push(ws.url());
    if (!isUp) {
      void ws.close({ code: 1011, reason: 'e2e: the stream is down' });
      return;
    }
    ws.connectToServer();
    open.push(ws);
  });
  return {
    urls,
    async down() {
      isUp = false;
      for (const ws of open.splice(0)) await ws.close({ code: 1001, reason: 'e2e: dropped' });
    },
    up() {
      isUp = true;
    },
  };
}

test.describe('a dropped stream', () => {
  test('reconnects, resumes, and catches up with what changed meanwhile', async ({ page, clients }) => {
    const stream = await controlStream(page);
    const a = await clients.connect();
    const b = await clients.connect();
    await gotoLive(page, '/');
    await expect(sessionRow(page, a.id)).toBeVisible();
    await expect(sessionRow(page, b.id)).toBeVisible();
    const status = page.getByTestId('stream-status');

    await stream.down();
    await expect(status).toHaveAttribute('data-state', 'reconnecting');
    await expect(status).toHaveText('reconnecting');
    // Changes while the page cannot hear of them.
    const m = marker('resume');
    await b.client.close();
    const c = await clients.connect();
    await a.client.query(`SELECT '${m}' AS meanwhile`);
    await expect.poll(() => api.session(b.id)).toBeNull();
    await expect(sessionRow(page, c.id)).toHaveCount(0);
    await expect(sessionRow(page, b.id)).toBeVisible();

    const attempts = stream.urls.length;
    stream.up();
    await expectLive(page, 20_000);
    await expect(sessionRow(page, c.id)).toBeVisible();
    await expect(sessionRow(page, b.id)).toHaveCount(0, { timeout: 5_000 });
    await expect(sessionRow(page, a.id).getByTestId('session-statement')).toContainText(m);
    await expectCountsMatchAPI(page);
    // It resumed from the last revision it had rather than starting over.
    const resumed = stream.urls.slice(attempts);
    expect(resumed.length).toBeGreaterThan(0);
    for (const url of resumed) expect(new URL(url).searchParams.get('since')).toMatch(/^\w+:\d+$/);
    // And it keeps following.
    await c.client.close();
    await expect(sessionRow(page, c.id)).toHaveCount(0, { timeout: 5_000 });
  });

  test('the services and detail pages reconnect too', async ({ page, clients }) => {
    const stream = await controlStream(page);
    await gotoLive(page, '/services');
    const count = page.locator('[data-testid="service-row"][data-service="E2E-Other"] [data-testid="service-sessions"]');
    const before = Number(await count.textContent());
    await stream.down();
    await expect(page.getByTestId('stream-status')).toHaveAttribute('data-state', 'reconnecting');
    await clients.connect({ port: suiteOtherListenerPort });
    await expect(count).toHaveText(String(before));
    stream.up();
    await expectLive(page, 20_000);
    await expect(count).toHaveText(String(before + 1));

    // A detail page whose session ends while the stream is down.
    const d = await clients.connect();
    await gotoLive(page, `/sessions/${d.id}`);
    await stream.down();
    await expect(page.getByTestId('stream-status')).toHaveAttribute('data-state', 'reconnecting');
    await d.client.close();
    await expect.poll(() => api.session(d.id)).toBeNull();
    await expect(page.getByTestId('detail-gone')).toHaveCount(0);
    stream.up();
    await expectLive(page, 20_000);
    await expect(page.getByTestId('detail-gone')).toBeVisible();
  });
});
