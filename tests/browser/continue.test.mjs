// "Continue on WhatsApp": a visitor writes in the widget, follows the widget's WhatsApp link (the
// demo's links point at the Graph sandbox's wa.me stand-in, which opens its phone page with the
// prefilled text), sends the prefilled text with its one-time code from the phone, and the advisor
// sees ONE conversation holding both the web message and the WhatsApp one.
//
// Needs the relay side: `confab-relay demo` with the sandbox and its phone page (the harness reads
// `phone on URL` into `relay.phoneUrl`).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scene, screenshot, unique, waitForText, logIn } from './harness.mjs';

/** The code shape of relay/src/channels/link.rs: two groups of four, no 0/O/1/I/L. */
const CODE = /\(code ([2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4})\)/;

test('a visitor continues on WhatsApp and the advisor sees one conversation', { timeout: 120_000 }, async () => {
  await scene('continue', async ({ relay, browser }) => {
    assert.ok(relay.phoneUrl, 'the demo relay printed `phone on URL` (the Graph sandbox is running)');
    const question = unique('Hi! Is the Ridgeline 2 in stock in green?');

    // The visitor writes on the web.
    const visitor = await browser('visitor');
    const v = visitor.page;
    await v.goto(relay.shopUrl + '/');
    await v.locator('#confab-widget .confab-launcher').click();
    await v.locator('.confab-panel').waitFor({ state: 'visible' });
    await v.locator('textarea.confab-composer').fill(question);
    await v.locator('button.confab-send').click();
    await v.locator('.confab-msg[data-author="visitor"][data-state="sent"], .confab-msg[data-author="visitor"][data-state="delivered"]')
      .filter({ hasText: question }).first().waitFor();

    // The continue row: both links, each with an accessible name, opening in a new tab.
    const row = v.locator('.confab-continue-on');
    await waitForText(row, 'Prefer your phone?', 'the continue row in the widget');
    const wa = v.locator('a.confab-continue[data-channel="whatsapp"]');
    const ms = v.locator('a.confab-continue[data-channel="messenger"]');
    await wa.waitFor();
    await ms.waitFor();
    assert.equal(await v.getByRole('link', { name: 'Continue this conversation on WhatsApp' }).count(), 1);
    assert.equal(await v.getByRole('link', { name: 'Continue this conversation on Messenger' }).count(), 1);
    for (const link of [wa, ms]) {
      assert.equal(await link.getAttribute('target'), '_blank');
      assert.match(await link.getAttribute('rel'), /\bnoopener\b/);
    }
    assert.match(await ms.getAttribute('href'), /\/m\.me\/[^?]+\?ref=/, 'the Messenger link carries a ref');
    await screenshot(v, 'continue-visitor-links');

    // The WhatsApp link opens the sandbox phone in a new tab, the code in the prefilled text.
    const [phone] = await Promise.all([
      visitor.context.waitForEvent('page'),
      wa.click(),
    ]);
    await phone.waitForLoadState();
    assert.equal(new URL(phone.url()).origin, new URL(relay.phoneUrl).origin, `the phone page (${phone.url()})`);
    assert.equal(new URL(phone.url()).pathname, '/phone');
    const composer = phone.locator('#composer');
    await composer.waitFor();
    const prefill = await composer.inputValue();
    const code = prefill.match(CODE)?.[1];
    assert.ok(code, `a one-time code in the prefilled text: ${JSON.stringify(prefill)}`);

    // A WhatsApp number the demo hasn't seen (its default number is the seeded customer's).
    const number = '+44 7700 9' + String(Math.floor(Math.random() * 1e5)).padStart(5, '0');
    await phone.locator('#name').fill('Sam Rivera');
    await phone.locator('#user').fill(number);
    await phone.locator('#send').click();
    await waitForText(phone.locator('.row.mine .text'), code, 'the prefilled message on the phone');
    await screenshot(phone, 'continue-phone');

    // The advisor: one conversation with the web message and the WhatsApp message.
    const advisor = await browser('advisor');
    const a = advisor.page;
    await logIn(a, relay);
    const items = a.locator('.conv-list .conv-item');
    await waitForText(items, code, 'the WhatsApp message in the inbox');
    assert.equal(await items.filter({ hasText: code }).count(), 1, 'one inbox row with the WhatsApp message');
    await items.filter({ hasText: code }).first().click();
    const thread = a.locator('.thread .msg[data-author="visitor"] .msg-text');
    await waitForText(thread, question, 'the web message in the advisor\'s thread');
    await waitForText(thread, code, 'the WhatsApp message in the same thread');
    const texts = await thread.allInnerTexts();
    assert.equal(texts.filter((t) => t.includes(question)).length, 1, `the web message once: ${JSON.stringify(texts)}`);
    assert.equal(texts.filter((t) => t.includes(code)).length, 1, `the WhatsApp message once: ${JSON.stringify(texts)}`);
    assert.ok(texts.findIndex((t) => t.includes(question)) < texts.findIndex((t) => t.includes(code)),
      `the web message comes first: ${JSON.stringify(texts)}`);
    await screenshot(a, 'continue-advisor');
  });
});
