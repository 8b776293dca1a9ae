import { test as base, expect, type Page } from '@playwright/test';
import { ClientPool } from './mariadb';
import { api } from './portico';

export { expect };

/**
 * The suite's test: `clients` opens real MariaDB clients through Portico,
 * all killed when the test ends, pass or fail.
 */
export const test = base.extend<{ clients: ClientPool }>({
  clients: async ({}, use) => {
    const pool = new ClientPool();
    await use(pool);
    await pool.killAll();
  },
});

/** The number in a state-count-KEY element. */
export function stateCount(page: Page, key: string) {
  return page.locator(`[data-testid="state-count-${key}"] strong`);
}

/**
 * Waits until the header's counts (all sessions, and each state) agree with
 * GET /v1/sessions.
 */
export async function expectCountsMatchAPI(page: Page, timeout = 10_000): Promise<void> {
  await expect
    .poll(
      async () => {
        const list = await api.sessions();
        const want: Record<string, number> = { total: list.length, ready: 0, allocated: 0, stopping: 0 };
        for (const s of list) {
          const key = { 'Session ready for routing': 'ready', 'Session Allocated': 'allocated', 'Stopping session': 'stopping' }[
            s.attributes.state
          ];
          if (key) want[key]++;
        }
        const got: Record<string, number> = {
          total: Number(await page.getByTestId('session-count').textContent()),
          ready: Number(await stateCount(page, 'ready').textContent()),
          allocated: Number(await stateCount(page, 'allocated').textContent()),
          stopping: Number(await stateCount(page, 'stopping').textContent()),
        };
        const same = Object.keys(want).every((k) => want[k] === got[k]);
        return same ? 'match' : `page ${JSON.stringify(got)} API ${JSON.stringify(want)}`;
      },
      { timeout, message: 'header counts agree with GET /v1/sessions' },
    )
    .toBe('match');
}
