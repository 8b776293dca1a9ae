import { expect, test } from '@playwright/test';

const user = process.env.PORTICO_ADMIN_USER ?? 'admin';
const password = process.env.PORTICO_ADMIN_PASSWORD ?? 'mariadb';

// These tests sign in through the form, so they start without Basic
// credentials.
test.use({ extraHTTPHeaders: {} });

test('signing in through the form, and out again', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('login-form')).toBeVisible();
  await expect(page.getByTestId('login-message')).toHaveCount(0);

  await page.getByTestId('login-user').fill(user);
  await page.getByTestId('login-password').fill('not the password');
  await page.getByTestId('login-submit').click();
  await expect(page.getByTestId('login-message')).toHaveText('Wrong user name or password.');

  await page.getByTestId('login-user').fill(user);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await expect(page.getByTestId('sessions-table')).toBeVisible();
  // The stream authenticates with the same cookies the form set.
  await expect(page.getByTestId('stream-status')).toHaveAttribute('data-state', 'live', { timeout: 15_000 });

  await page.getByTestId('logout').click();
  await expect(page.getByTestId('login-message')).toHaveText('You have signed out.');
  await page.goto('/');
  await expect(page.getByTestId('login-form')).toBeVisible();
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the sign-in form works', async ({ page }) => {
    await page.goto('/');
    await page.getByTestId('login-user').fill(user);
    await page.getByTestId('login-password').fill(password);
    await page.getByTestId('login-submit').click();
    await expect(page.getByTestId('sessions-table')).toBeVisible();
  });
});
