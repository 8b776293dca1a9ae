import { expect, test, type Page } from '@playwright/test';
import { adminPassword as password, adminURL, adminUser as user, expectLive } from './helpers/portico';

// These tests sign in through the form, so they start without the suite's
// Basic credentials.
test.use({ extraHTTPHeaders: {} });

async function signIn(page: Page, pw: string) {
  await page.getByTestId('login-user').fill(user);
  await page.getByTestId('login-password').fill(pw);
  await page.getByTestId('login-submit').click();
}

test('signing in through the form, and out again', async ({ page }) => {
  const first = await page.goto('/');
  expect(first?.status()).toBe(200);
  await expect(page.getByTestId('login-form')).toBeVisible();
  await expect(page.getByTestId('login-message')).toHaveCount(0);
  // The form has no header: no navigation, no sign-out, no stream.
  await expect(page.getByTestId('logout')).toHaveCount(0);
  await expect(page.getByTestId('nav-sessions')).toHaveCount(0);
  await expect(page.getByTestId('login-user')).toBeFocused();

  await signIn(page, 'not the password');
  await expect(page.getByTestId('login-message')).toHaveText('Wrong user name or password.');
  await expect(page.getByTestId('sessions-table')).toHaveCount(0);

  await signIn(page, password);
  await expect(page).toHaveURL('/');
  await expect(page.getByTestId('sessions-table')).toBeVisible();
  await expect(page.getByTestId('nav-sessions')).toHaveAttribute('aria-current', 'page');
  // The stream authenticates with the same cookies the form set.
  await expectLive(page);
  // So do the other pages.
  await page.getByTestId('nav-services').click();
  await expect(page.getByTestId('services-table')).toBeVisible();
  await expectLive(page);

  await page.getByTestId('logout').click();
  await expect(page.getByTestId('login-form')).toBeVisible();
  await expect(page.getByTestId('login-message')).toHaveText('You have signed out.');
  // Signed out means every page asks again.
  for (const path of ['/', '/services']) {
    await page.goto(path);
    await expect(page.getByTestId('login-form')).toBeVisible();
    await expect(page.getByTestId('login-message')).toHaveCount(0);
  }
  // And the API does not take the dropped cookies either.
  const res = await page.request.get('/v1/sessions');
  expect(res.status()).toBe(401);
});

test('a wrong password from the form gets no cookies', async ({ page, context }) => {
  await page.goto('/');
  await signIn(page, 'not the password');
  await expect(page.getByTestId('login-message')).toHaveText('Wrong user name or password.');
  const cookies = await context.cookies();
  expect(cookies.filter((c) => c.value !== '').map((c) => c.name)).toEqual([]);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the sign-in form, its message and the sign-out work', async ({ page }) => {
    await page.goto('/');
    await signIn(page, 'wrong');
    await expect(page.getByTestId('login-message')).toHaveText('Wrong user name or password.');

    await signIn(page, password);
    await expect(page).toHaveURL('/');
    await expect(page.getByTestId('sessions-table')).toBeVisible();
    // Nothing keeps the status up to date without the client.
    await expect(page.getByTestId('stream-status')).toHaveAttribute('data-state', 'offline');

    await page.getByTestId('logout').click();
    await expect(page.getByTestId('login-message')).toHaveText('You have signed out.');
    await page.goto('/');
    await expect(page.getByTestId('login-form')).toBeVisible();
  });
});

test('a sign-in that no longer works asks again, saying why', async ({ page, context }) => {
  // Token cookies Portico cannot verify (signed elsewhere, or expired).
  const url = new URL(adminURL);
  await context.addCookies(
    ['token_body', 'token_sig'].map((name) => ({ name, value: 'not-a-token', domain: url.hostname, path: '/' })),
  );
  await page.goto('/');
  await expect(page.getByTestId('login-form')).toBeVisible();
  await expect(page.getByTestId('login-message')).toHaveText('Your session has expired. Sign in again.');
  // The stale cookies are gone: the next visit is a plain one.
  await page.goto('/');
  await expect(page.getByTestId('login-message')).toHaveCount(0);
  await signIn(page, password);
  await expectLive(page);
});
