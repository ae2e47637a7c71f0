// A reply that arrives while the visitor's chat is closed (here: after they came back to the
// shop later) shows as an unread badge on the bubble; opening the chat shows it and clears the badge.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scene, screenshot, unique, waitForText, logIn } from './harness.mjs';

test('a reply while the chat is closed shows an unread badge', { timeout: 120_000 }, async () => {
  await scene('badge', async ({ relay, browser }) => {
    const question = unique('Can I return boots I wore once?');
    const answer = unique('Yes, within 60 days, worn or not.');

    const visitor = await browser('visitor');
    const v = visitor.page;
    const launcher = v.locator('#confab-widget .confab-launcher');
    const badge = v.locator('#confab-widget .confab-badge');
    await v.goto(relay.shopUrl + '/product.html');
    await launcher.click();
    await v.locator('textarea.confab-composer').fill(question);
    await v.locator('button.confab-send').click();
    await waitForText(v.locator('.confab-msg[data-author="visitor"] .confab-msg-text'), question,
      "the visitor's message in the widget");

    // The visitor comes back later to another page; the chat stays closed.
    await v.goto(relay.shopUrl + '/contact.html');
    await launcher.waitFor({ state: 'visible' });
    assert.equal(await v.locator('.confab-panel').isVisible(), false, 'the chat starts closed');

    const advisor = await browser('advisor');
    const a = advisor.page;
    await logIn(a, relay);
    await waitForText(a.locator('.conv-list .conv-item'), question, 'the conversation in the inbox');
    await a.locator('.conv-list .conv-item').filter({ hasText: question }).first().click();
    await a.locator('textarea.composer').fill(answer);
    await a.locator('button.send').click();
    await waitForText(a.locator('.thread .msg[data-author="advisor"] .msg-text'), answer, "the advisor's reply");

    // The closed widget shows one unread message…
    await waitForText(badge, '1', 'the unread badge on the closed chat');
    await screenshot(v, 'badge-unread');

    // …opening it shows the reply and clears the badge.
    await launcher.click();
    await waitForText(v.locator('.confab-msg[data-author="advisor"] .confab-msg-text'), answer,
      'the reply once the chat is opened');
    await badge.waitFor({ state: 'hidden' });
  });
});
