// The visitor ↔ advisor journey of the issue, in two separate Chromium profiles:
// open the demo shop (another origin than the relay), click the bubble, send a message; log
// into the dashboard, see it, reply; the visitor sees the reply; after a reload the thread is
// still there, all under the shop's strict Content-Security-Policy. Screenshots of both sides go
// to test-output/browser/.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scene, screenshot, unique, waitForText, logIn } from './harness.mjs';

test('a visitor and an advisor talk, and the thread survives a reload', { timeout: 120_000 }, async () => {
  await scene('journey', async ({ relay, browser }) => {
    assert.notEqual(new URL(relay.shopUrl).origin, new URL(relay.relayUrl).origin,
      'the shop must be served from another origin than the relay');
    const question = unique('Hello! Does the Ridgeline 2 fit two tall people?');
    const answer = unique('It does: the floor is 215 cm long. Happy trails!');

    // The visitor, on the shop.
    const visitor = await browser('visitor');
    const v = visitor.page;
    const page = await v.goto(relay.shopUrl + '/');
    // The shop is served under the strict policy the README documents: the widget runs with no
    // inline script and WebAssembly allowed only by 'wasm-unsafe-eval' (any violation would be a
    // console error, which fails the test).
    const csp = page.headers()['content-security-policy'] ?? '';
    const scriptSrc = csp.split(';').map((d) => d.trim()).find((d) => d.startsWith('script-src')) ?? '';
    assert.ok(scriptSrc.includes("'wasm-unsafe-eval'") && scriptSrc.includes(relay.relayUrl), `script-src: ${scriptSrc}`);
    assert.ok(!scriptSrc.includes("'unsafe-inline'") && !/'unsafe-eval'/.test(scriptSrc), `no inline or eval scripts: ${scriptSrc}`);
    await v.locator('#confab-widget .confab-launcher').click();
    await v.locator('.confab-panel').waitFor({ state: 'visible' });
    await v.locator('textarea.confab-composer').fill(question);
    await v.locator('button.confab-send').click();
    await waitForText(v.locator('.confab-msg[data-author="visitor"] .confab-msg-text'), question,
      "the visitor's own message in the widget");

    // The advisor, in the dashboard.
    const advisor = await browser('advisor');
    const a = advisor.page;
    await logIn(a, relay);
    const conversation = a.locator('.conv-list .conv-item').filter({ hasText: question });
    await waitForText(a.locator('.conv-list .conv-item'), question, 'the new conversation in the inbox');
    await conversation.first().click();
    await waitForText(a.locator('.thread .msg[data-author="visitor"] .msg-text'), question,
      "the visitor's message in the advisor's thread");
    await a.locator('textarea.composer').fill(answer);
    await a.locator('button.send').click();
    await waitForText(a.locator('.thread .msg[data-author="advisor"] .msg-text'), answer,
      "the advisor's reply in their own thread");

    // The reply reaches the visitor live.
    await waitForText(v.locator('.confab-msg[data-author="advisor"] .confab-msg-text'), answer,
      "the advisor's reply in the visitor's widget");
    await screenshot(v, 'journey-visitor');
    await screenshot(a, 'journey-advisor');

    // Reload: same browser profile, so the same visitor; the whole thread comes back.
    await v.reload();
    const panel = v.locator('.confab-panel');
    await v.locator('#confab-widget .confab-launcher').waitFor({ state: 'visible' });
    if (!(await panel.isVisible())) await v.locator('#confab-widget .confab-launcher').click();
    await panel.waitFor({ state: 'visible' });
    await waitForText(v.locator('.confab-msg[data-author="visitor"] .confab-msg-text'), question,
      "the visitor's message after a reload");
    await waitForText(v.locator('.confab-msg[data-author="advisor"] .confab-msg-text'), answer,
      "the advisor's reply after a reload");
    const texts = await v.locator('.confab-msg .confab-msg-text').allInnerTexts();
    assert.equal(texts.filter((t) => t.includes(question)).length, 1, `the question appears once: ${JSON.stringify(texts)}`);
    assert.equal(texts.filter((t) => t.includes(answer)).length, 1, `the answer appears once: ${JSON.stringify(texts)}`);
    await screenshot(v, 'journey-visitor-after-reload');
  });
});
