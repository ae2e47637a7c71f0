// Issue 13, an identity the shop never vouched for: a visitor types an e-mail into the widget's
// "Get notified by e-mail" card; the advisor's inbox row and customer panel mark it "Unverified",
// and the row's accessible name says so too.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scene, screenshot, unique, waitForText, logIn } from './harness.mjs';

test('an e-mail the visitor typed is marked unverified in the inbox and the customer panel', { timeout: 120_000 }, async () => {
  await scene('unverified', async ({ relay, browser }) => {
    const question = unique('Can you change the address on my order?');
    const visitor = await browser('visitor');
    const v = visitor.page;
    await v.goto(relay.shopUrl + '/');
    await v.locator('#confab-widget .confab-launcher').click();
    await v.locator('textarea.confab-composer').fill(question);
    await v.locator('button.confab-send').click();
    const offer = v.locator('.confab-reach[data-card="offer"] form.confab-notify');
    await offer.waitFor();
    await offer.locator('input.confab-email').fill('grace@customer.test');
    await offer.locator('button.confab-notify-send').click();
    await waitForText(v.locator('.confab-notify-saved'), 'grace@customer.test', 'the confirmation');

    const advisor = await browser('advisor');
    const a = advisor.page;
    await logIn(a, relay);
    const row = a.locator('.conv-list .conv-item').filter({ hasText: question });
    await waitForText(row.locator('.conv-unverified'), 'Unverified', 'the inbox row’s mark');
    assert.match(await row.getAttribute('aria-label'), /\(unverified\)/);
    await row.click();
    await waitForText(a.locator('.customer-unverified'), 'E-mail typed by the customer', 'the panel’s mark');
    assert.equal(await a.locator('input.customer-email').inputValue(), 'grace@customer.test');
    await screenshot(a, 'unverified-advisor');
  });
});
