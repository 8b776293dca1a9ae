import type { Page } from '@playwright/test';
import { expect, test } from './helpers/fixtures';
import { marker } from './helpers/mariadb';
import { gotoLive, sessionRow } from './helpers/portico';

// The sessions page's keyboard: / searches, Escape leaves the search, arrows
// move the selection, Enter opens it, k or Delete offers to kill it; a
// double-click opens a row.

async function expectSelected(page: Page, id: string) {
  const row = sessionRow(page, id);
  await expect(row).toHaveAttribute('aria-selected', 'true');
  await expect(row).toHaveClass(/\bselected\b/);
  await expect(page.locator('#session-rows tr.selected')).toHaveCount(1);
  await expect(row).toBeInViewport();
}

test('keyboard: /, Escape, arrows, k, Delete and Enter', async ({ page, clients }) => {
  const m = marker('kb');
  const opened = await Promise.all([clients.connect(), clients.connect(), clients.connect()]);
  for (const o of opened) await o.client.query(`SELECT '${m}' AS kb`);
  const ids = opened.map((o) => o.id).sort((a, b) => Number(a) - Number(b));

  await gotoLive(page, '/');
  const search = page.getByTestId('search');
  await page.keyboard.press('/');
  await expect(search).toBeFocused();
  // The slash itself is not typed.
  await expect(search).toHaveValue('');
  await page.keyboard.type(m);
  await expect(page).toHaveURL(`/?q=${m}`);
  await expect(page.locator('#session-rows tr[data-testid="session-row"]')).toHaveCount(3);
  await expect(page.locator('#session-rows tr.selected')).toHaveCount(0);

  // Escape leaves an input (the user filter here: see below for the search
  // box); / comes back to the search.
  const user = page.getByTestId('filter-user');
  await user.click();
  await page.keyboard.press('Escape');
  await expect(user).not.toBeFocused();
  await page.keyboard.press('/');
  await expect(search).toBeFocused();
  // All of it is selected: typing replaces it.
  expect(await search.evaluate((el: HTMLInputElement) => [el.selectionStart, el.selectionEnd])).toEqual([0, m.length]);
  await page.keyboard.press('End');

  // Typing k in the search box types it.
  await page.keyboard.type('k');
  await expect(search).toHaveValue(`${m}k`);
  await expect(page.getByTestId('kill-dialog')).toBeHidden();
  await page.keyboard.press('Backspace');
  await expect(search).toHaveValue(m);

  // ArrowDown from the search box leaves it and selects the first row.
  await page.keyboard.press('ArrowDown');
  await expect(search).not.toBeFocused();
  await expectSelected(page, ids[0]);
  await page.keyboard.press('ArrowDown');
  await expectSelected(page, ids[1]);
  await page.keyboard.press('ArrowUp');
  await expectSelected(page, ids[0]);
  await page.keyboard.press('ArrowUp');
  await expectSelected(page, ids[0]);
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await expectSelected(page, ids[2]);

  // k and Delete open the kill dialog for the selected session.
  const dialog = page.getByTestId('kill-dialog');
  await page.keyboard.press('k');
  await expect(dialog).toBeVisible();
  await expect(dialog.getByTestId('kill-id')).toHaveText(ids[2]);
  // Arrows do not move the selection behind the dialog; Escape closes it.
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await page.keyboard.press('ArrowUp');
  await expectSelected(page, ids[1]);
  await page.keyboard.press('Delete');
  await expect(dialog).toBeVisible();
  await expect(dialog.getByTestId('kill-id')).toHaveText(ids[1]);
  await dialog.getByTestId('kill-cancel').click();
  await expect(dialog).toBeHidden();
  // Every session is still there.
  for (const id of ids) await expect(sessionRow(page, id)).toBeVisible();

  // A click selects too.
  await sessionRow(page, ids[2]).getByTestId('session-service').click();
  await expectSelected(page, ids[2]);

  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(`/sessions/${ids[2]}`);
  await expect(page.getByTestId('detail-id')).toHaveText(ids[2]);

  // Back to the table, which kept the search in its URL; a double-click
  // opens a row.
  await page.goBack();
  await expect(page).toHaveURL(`/?q=${m}`);
  await expect(search).toHaveValue(m);
  await expect(page.getByTestId('stream-status')).toHaveAttribute('data-state', 'live', { timeout: 15_000 });
  await sessionRow(page, ids[0]).getByTestId('session-queries').dblclick();
  await expect(page).toHaveURL(`/sessions/${ids[0]}`);
});

test('Escape in the search box clears the search, and the table follows; again leaves the box', async ({ page, clients }) => {
  const m = marker('esc');
  const { client, id } = await clients.connect();
  const other = await clients.connect();
  await client.query(`SELECT '${m}' AS esc`);
  await gotoLive(page, '/');
  const search = page.getByTestId('search');
  await page.keyboard.press('/');
  await page.keyboard.type(m);
  await expect(page).toHaveURL(`/?q=${m}`);
  await expect(page.locator('#session-rows tr[data-testid="session-row"]')).toHaveCount(1);
  await expect(sessionRow(page, id)).toBeVisible();

  // The first Escape clears the search: the box, the URL and the table
  // agree. The next one leaves the box.
  await page.keyboard.press('Escape');
  await expect(search).toHaveValue('');
  await expect(page).toHaveURL('/');
  await expect(sessionRow(page, other.id)).toBeVisible();
  await expect(sessionRow(page, id)).toBeVisible();
  await expect(search).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(search).not.toBeFocused();
  await expect(page).toHaveURL('/');
});
