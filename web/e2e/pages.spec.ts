import { expect, test } from './helpers/fixtures';
import { api } from './helpers/portico';

// Where the dashboard's pages live, next to the REST API.

test('the pages are at /, /sessions/{id} and /services, the REST API under /v1', async ({ page, clients }) => {
  const { id } = await clients.connect();
  for (const [path, testid] of [
    ['/', 'sessions-table'],
    [`/sessions/${id}`, 'session-detail'],
    ['/services', 'services-table'],
  ] as const) {
    const res = await page.goto(path);
    expect(res?.status(), path).toBe(200);
    expect(res?.headers()['content-type'], path).toMatch(/^text\/html/);
    await expect(page.getByTestId(testid)).toBeVisible();
    await expect(page.getByTestId('nav-sessions')).toBeVisible();
  }
  for (const path of [`/v1/sessions/${id}`, '/v1/services']) {
    const res = await api.fetch(path);
    expect(res.status, path).toBe(200);
    expect(res.headers.get('content-type'), path).toMatch(/json/);
  }
});
