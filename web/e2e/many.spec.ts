import type { Page } from '@playwright/test';
import { expect, test } from './helpers/fixtures';
import { OwnPortico, portsFromEnv, rowIDs, serviceOf, sessionRow } from './helpers/portico';

// More sessions than the first paint holds: `portico simulate` (no MariaDB)
// keeps 150 made-up sessions that never change, on a free port (or
// PORTICO_SIMULATE_PORT). The server renders the first few dozen with a note
// saying how many more there are; the live client shows them all,
// virtually scrolled.

const sessions = 150;
let portico: OwnPortico;
let ids: string[];

test.beforeAll(async () => {
  portico = await OwnPortico.create({ ports: portsFromEnv('PORTICO_SIMULATE_PORT'), simulate: { sessions, rate: 0 } });
  await portico.start();
  ids = (await portico.api.sessions()).map((s) => s.id).sort((a, b) => Number(a) - Number(b));
  expect(ids).toHaveLength(sessions);
});

test.afterAll(async () => {
  await portico?.dispose();
});

function scroller(page: Page) {
  return page.getByTestId('sessions-scroller');
}

/** The heights (px) the spacer rows above and below the drawn rows stand for. */
async function spacers(page: Page): Promise<number[]> {
  return page.locator('#session-rows').evaluate((tbody) => {
    const rows = [...tbody.children] as HTMLElement[];
    const h = (tr: HTMLElement | undefined) =>
      tr?.classList.contains('spacer') ? parseFloat((tr.firstElementChild as HTMLElement).style.height) || 0 : 0;
    return [h(rows[0]), h(rows[rows.length - 1])];
  });
}

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the first paint shows the first rows and says how many more there are', async ({ page }) => {
    await page.goto(portico.url + '/');
    const shown = await rowIDs(page);
    expect(shown.length).toBeGreaterThanOrEqual(20);
    expect(shown.length).toBeLessThan(sessions);
    expect(shown).toEqual(ids.slice(0, shown.length));
    await expect(page.getByTestId('table-note')).toHaveText(
      `Showing the first ${shown.length} of ${sessions}: the live table shows them all, or refine the search.`,
    );
    await expect(page.getByTestId('session-count')).toHaveText(String(sessions));
    await expect(page.getByTestId('shown-count')).toHaveText(`${sessions} shown`);
    await expect(page.locator('#session-rows tr.spacer')).toHaveCount(0);
    await expect(page.getByTestId('sessions-table')).toHaveAttribute('aria-rowcount', String(sessions + 1));

    // A view that matches fewer has no note; one sorted the other way
    // starts at the other end.
    await page.goto(portico.url + '/?sort=-id');
    expect((await rowIDs(page))[0]).toBe(ids[ids.length - 1]);
    await page.goto(`${portico.url}/?q=${encodeURIComponent('no such session')}`);
    await expect(page.getByTestId('table-note')).toHaveCount(0);
    await expect(page.getByTestId('shown-count')).toHaveText(`0 of ${sessions} shown`);
  });
});

test('the live table holds every session, drawing only the visible rows', async ({ page }) => {
  await page.goto(portico.url + '/');
  await expect(page.getByTestId('stream-status')).toHaveAttribute('data-state', 'live', { timeout: 15_000 });
  await expect(page.getByTestId('table-note')).toHaveCount(0);
  await expect(page.getByTestId('shown-count')).toHaveText(`${sessions} shown`);
  await expect(page.getByTestId('sessions-table')).toHaveAttribute('aria-rowcount', String(sessions + 1));

  // Only a window of rows is in the DOM; spacers stand in for the rest, so
  // the scrollbar is the whole table's.
  const drawn = await rowIDs(page);
  expect(drawn.length).toBeGreaterThan(0);
  expect(drawn.length).toBeLessThan(sessions);
  expect(drawn).toEqual(ids.slice(0, drawn.length));
  const rowHeight = await sessionRow(page, ids[0]).evaluate((tr) => Math.round(tr.getBoundingClientRect().height));
  await expect.poll(() => spacers(page)).toEqual([0, (sessions - drawn.length) * rowHeight]);

  // Scrolled to the end, the last sessions are drawn.
  await scroller(page).evaluate((el) => (el.scrollTop = el.scrollHeight));
  const last = sessionRow(page, ids[ids.length - 1]);
  await expect(last).toBeInViewport();
  await expect(sessionRow(page, ids[0])).toHaveCount(0);
  const end = await rowIDs(page);
  expect(end).toEqual(ids.slice(sessions - end.length));
  expect(await spacers(page)).toEqual([(sessions - end.length) * rowHeight, 0]);
  // And back.
  await scroller(page).evaluate((el) => (el.scrollTop = 0));
  await expect(sessionRow(page, ids[0])).toBeInViewport();
  await expect(last).toHaveCount(0);

  // The keyboard selection scrolls along.
  await page.keyboard.press('ArrowDown');
  await expect(sessionRow(page, ids[0])).toHaveAttribute('aria-selected', 'true');
  for (let i = 0; i < 4; i++) await page.keyboard.press('PageDown');
  const selected = page.locator('#session-rows tr.selected');
  await expect(selected).toHaveCount(1);
  await expect(selected).toBeInViewport();
  const at = ids.indexOf((await selected.getAttribute('data-session-id'))!);
  expect(at).toBeGreaterThan(20);
  for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowDown');
  await expect(sessionRow(page, ids[at + 3])).toHaveAttribute('aria-selected', 'true');
  await expect(sessionRow(page, ids[at + 3])).toBeInViewport();
  expect(await scroller(page).evaluate((el) => el.scrollTop)).toBeGreaterThan(0);

  // A new sort starts at the top of the whole table.
  await page.getByTestId('sort-id').click();
  await expect(page).toHaveURL(portico.url + '/?sort=-id');
  await expect(sessionRow(page, ids[ids.length - 1])).toBeInViewport();
  expect(await scroller(page).evaluate((el) => el.scrollTop)).toBe(0);

  // A filter counts what it shows.
  const byService = new Map<string, number>();
  for (const s of await portico.api.sessions()) byService.set(serviceOf(s), (byService.get(serviceOf(s)) ?? 0) + 1);
  const [service, n] = [...byService].sort((a, b) => a[1] - b[1])[0];
  await page.getByTestId('filter-service').selectOption(service);
  await expect(page.getByTestId('shown-count')).toHaveText(`${n} of ${sessions} shown`);
  const services = await page
    .locator('#session-rows [data-testid="session-service"]')
    .allTextContents();
  expect(new Set(services)).toEqual(new Set([service]));
});

test('the drawn rows sit right under the header, with no blank row above or below', async ({ page }) => {
  await page.goto(portico.url + '/');
  await expect(page.getByTestId('stream-status')).toHaveAttribute('data-state', 'live', { timeout: 15_000 });
  const bottom = (sel: string) =>
    page.locator(sel).first().evaluate((el) => el.getBoundingClientRect().bottom);
  const top = (sel: string) => page.locator(sel).first().evaluate((el) => el.getBoundingClientRect().top);
  const first = `#session-rows tr[data-session-id="${ids[0]}"]`;
  await expect(page.locator(first)).toBeVisible();
  expect(Math.abs((await top(first)) - (await bottom('#sessions-table thead')))).toBeLessThan(1);

  await scroller(page).evaluate((el) => (el.scrollTop = el.scrollHeight));
  const last = `#session-rows tr[data-session-id="${ids[ids.length - 1]}"]`;
  await expect(page.locator(last)).toBeInViewport();
  expect(Math.abs((await bottom('#session-rows')) - (await bottom(last)))).toBeLessThan(1);
});
