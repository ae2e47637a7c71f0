// Issue 3, both sides of one conversation: the widget's header says whether an advisor is online
// (else the site's reply time); the visitor's newest message says Sent → Delivered (an advisor's
// dashboard has it) → Read (an advisor read it); each side sees the other typing; the advisor's
// reply says "Seen" once the visitor read it; the inbox row and the thread header show the visitor
// online; a reply arriving in a hidden tab puts "(1) " in the page's title.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scene, screenshot, unique, waitForText, logIn } from './harness.mjs';

/**
 * Makes the page believe its tab is hidden (or visible again) and tells it so. Headless Chromium
 * keeps every page visible, so this is the way to drive the widget's `visibilitychange` handling.
 */
async function setHidden(page, hidden) {
  await page.evaluate((hidden) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

test('receipts, presence and typing, on both sides', { timeout: 150_000 }, async () => {
  await scene('receipts', async ({ relay, browser }) => {
    const question = unique('Do you ship to Norway?');
    const second = unique('And how long does it take?');
    const answer = unique('We do: 3 to 5 working days.');
    const later = unique('Anything else I can help with?');

    // The visitor opens the chat: nobody is online, so the header gives the reply time.
    const visitor = await browser('visitor');
    const v = visitor.page;
    await v.goto(relay.shopUrl + '/');
    await v.locator('#confab-widget .confab-launcher').click();
    const presence = v.locator('.confab-presence');
    await waitForText(presence, 'Usually replies', 'the reply time while no advisor is online');
    assert.equal(await presence.getAttribute('data-online'), 'false');

    // A message with no advisor online is sent (committed) but not delivered.
    await v.locator('textarea.confab-composer').fill(question);
    await v.locator('button.confab-send').click();
    const mine = (text) => v.locator('.confab-msg[data-author="visitor"]').filter({ hasText: text });
    await mine(question).and(v.locator('[data-state="sent"]')).waitFor();
    await waitForText(mine(question).locator('.confab-msg-receipt'), 'Sent', 'the receipt of an undelivered message');
    await screenshot(v, 'receipts-visitor-sent-offline-header');

    // An advisor logs in: the visitor's header says Online.
    const advisor = await browser('advisor');
    const a = advisor.page;
    await logIn(a, relay);
    await presence.and(v.locator('[data-online="true"]')).waitFor();
    await waitForText(presence, 'Online', 'the header once an advisor is online');

    // The inbox shows the visitor online.
    await waitForText(a.locator('.conv-list .conv-item'), question, 'the conversation in the inbox');
    // By id: the row's preview follows the newest message.
    const id = await a.locator('.conv-list .conv-item').filter({ hasText: question }).getAttribute('data-id');
    const row = a.locator(`.conv-list .conv-item[data-id="${id}"]`);
    await row.and(a.locator('[data-online="true"]')).waitFor();
    await row.locator('.conv-online').waitFor({ state: 'visible' });

    // With the advisor's dashboard open (the conversation not), the next message is delivered.
    await v.locator('textarea.confab-composer').fill(second);
    await v.locator('button.confab-send').click();
    await mine(second).and(v.locator('[data-state="delivered"]')).waitFor();
    await waitForText(mine(second).locator('.confab-msg-receipt'), 'Delivered', 'the receipt once delivered');
    assert.equal(await mine(question).locator('.confab-msg-receipt').textContent(), '', 'the receipt shows under the newest message only');
    await screenshot(v, 'receipts-visitor-delivered');

    // The advisor opens the conversation and so reads it.
    await row.click();
    await waitForText(a.locator('.thread .msg[data-author="visitor"] .msg-text'), second, "the visitor's messages in the thread");
    await a.locator('.thread-presence[data-online="true"]').waitFor();
    await mine(second).and(v.locator('[data-state="read"]')).waitFor();
    await mine(question).and(v.locator('[data-state="read"]')).waitFor();
    await waitForText(mine(second).locator('.confab-msg-receipt'), 'Read', 'the receipt once read');

    // The advisor types: the visitor sees it.
    await a.locator('textarea.composer').pressSequentially('We d', { delay: 40 });
    await waitForText(v.locator('.confab-typing'), 'is typing', 'the advisor typing, in the widget');
    await screenshot(v, 'receipts-visitor-read-typing');

    // The visitor types: the advisor sees it.
    await v.locator('textarea.confab-composer').pressSequentially('Tha', { delay: 40 });
    await waitForText(a.locator('.thread .typing-indicator'), 'is typing', 'the visitor typing, in the dashboard');
    await screenshot(a, 'receipts-advisor-typing-online');

    // The reply: it replaces "is typing" in the widget, and the open widget reads it: "Seen".
    await a.locator('textarea.composer').fill(answer);
    await a.locator('button.send').click();
    await waitForText(v.locator('.confab-msg[data-author="advisor"] .confab-msg-text'), answer, 'the reply in the widget');
    await v.locator('.confab-typing').waitFor({ state: 'detached' });
    const reply = a.locator('.thread .msg.own').filter({ hasText: answer });
    await reply.and(a.locator('[data-state="read"]')).waitFor();
    await waitForText(reply.locator('.msg-state'), 'Seen', "the advisor's reply once the visitor read it");
    await screenshot(a, 'receipts-advisor-seen');

    // A reply while the visitor's tab is hidden: "(1) " before the page's title, gone once it is visible.
    const title = await v.title();
    await setHidden(v, true);
    await a.locator('textarea.composer').fill(later);
    await a.locator('button.send').click();
    await v.waitForFunction((t) => document.title === `(1) ${t}`, title);
    await reply.and(a.locator('[data-state="read"]')).waitFor();
    const laterRow = a.locator('.thread .msg.own').filter({ hasText: later });
    await laterRow.and(a.locator('[data-state="delivered"]')).waitFor();
    await setHidden(v, false);
    await v.waitForFunction((t) => document.title === t, title);
    await laterRow.and(a.locator('[data-state="read"]')).waitFor();

    // The advisor logs out: the visitor's header goes back to the reply time.
    await a.locator('.logout').click();
    await presence.and(v.locator('[data-online="false"]')).waitFor();
    await waitForText(presence, 'Usually replies within an hour', 'the reply time once the advisor left');
    await screenshot(v, 'receipts-visitor-advisor-left');
  });
});

test('the inbox shows a visitor going offline', { timeout: 120_000 }, async () => {
  await scene('presence', async ({ relay, browser }) => {
    const question = unique('Hello?');
    const visitor = await browser('visitor');
    const v = visitor.page;
    await v.goto(relay.shopUrl + '/');
    await v.locator('#confab-widget .confab-launcher').click();
    await v.locator('textarea.confab-composer').fill(question);
    await v.locator('button.confab-send').click();
    await v.locator('.confab-msg[data-author="visitor"][data-state="sent"]').waitFor();

    const advisor = await browser('advisor');
    const a = advisor.page;
    await logIn(a, relay);
    const row = a.locator('.conv-list .conv-item').filter({ hasText: question });
    await row.and(a.locator('[data-online="true"]')).waitFor();
    await row.click();
    await a.locator('.thread-presence[data-online="true"]').waitFor();

    await v.goto('about:blank'); // the visitor leaves the shop
    await row.and(a.locator('[data-online="false"]')).waitFor();
    await a.locator('.thread-presence[data-online="false"]').waitFor();
    assert.equal(await row.locator('.conv-online').isVisible(), false, 'no green dot');
    await screenshot(a, 'presence-advisor-visitor-left');
  });
});

/**
 * Records the `typing` frames a page sends on the socket whose path is `path`, passing every frame
 * through unchanged. Returns the list it fills: `{ on, at }` (ms since the route was set), plus
 * `{ send: true, at }` for each message sent, to check the order.
 */
async function recordTyping(context, path) {
  const start = Date.now();
  const frames = [];
  await context.routeWebSocket((url) => new URL(url).pathname === path, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => {
      const f = typeof m === 'string' ? JSON.parse(m) : null;
      if (f?.type === 'typing') frames.push({ on: f.on, at: Date.now() - start });
      if (f?.type === 'send') frames.push({ send: true, at: Date.now() - start });
      server.send(m);
    });
  });
  return frames;
}

/** Types `text` one key every `delay` ms; returns how long that took. */
async function typeSlowly(locator, text, delay) {
  const t0 = Date.now();
  await locator.pressSequentially(text, { delay });
  return Date.now() - t0;
}

test('both sides send typing at most every 3 s while typing, and stop after 4 s idle or on send',
  { timeout: 120_000 }, async () => {
    await scene('typing', async ({ relay, browser }) => {
      const visitor = await browser('visitor');
      const v = visitor.page;
      const fromVisitor = await recordTyping(visitor.context, '/ws/visitor');
      await v.goto(relay.shopUrl + '/');
      await v.locator('#confab-widget .confab-launcher').click();
      const composer = v.locator('textarea.confab-composer');
      const question = unique('Typing test');
      await composer.fill(question);
      await v.locator('button.confab-send').click();
      await v.locator('.confab-msg[data-author="visitor"][data-state="sent"]').waitFor();

      const advisor = await browser('advisor');
      const a = advisor.page;
      const fromAdvisor = await recordTyping(advisor.context, '/ws/advisor');
      await logIn(a, relay);
      await a.locator('.conv-list .conv-item').filter({ hasText: question }).click();
      await a.locator('.thread-presence[data-online="true"]').waitFor();

      // Each side types for ~4.5 s (a key every 150 ms), then stops.
      for (const [who, page, box, frames] of [
        ['visitor', v, composer, fromVisitor],
        ['advisor', a, a.locator('textarea.composer'), fromAdvisor],
      ]) {
        frames.length = 0;
        const took = await typeSlowly(box, 'Let me think about this one for a bit', 120);
        await page.waitForTimeout(5_000);
        const ons = frames.filter((f) => f.on === true);
        const offs = frames.filter((f) => f.on === false);
        assert.ok(ons.length >= 2 && ons.length <= Math.floor(took / 3000) + 1,
          `${who}: "on" repeated every 3 s, no more (${took} ms of typing): ${JSON.stringify(frames)}`);
        for (let i = 1; i < ons.length; i++) {
          assert.ok(ons[i].at - ons[i - 1].at >= 2900, `${who}: "on" 3 s apart: ${JSON.stringify(frames)}`);
        }
        assert.equal(offs.length, 1, `${who}: one "stopped": ${JSON.stringify(frames)}`);
        assert.ok(offs[0].at > ons.at(-1).at, `${who}: "stopped" comes last`);

        // Typing, then sending: "stopped" goes before the message.
        frames.length = 0;
        await box.fill('');
        await box.pressSequentially('ok', { delay: 50 });
        await box.press('Enter');
        await page.waitForTimeout(500);
        const kinds = frames.map((f) => (f.send ? 'send' : f.on ? 'on' : 'off'));
        assert.deepEqual(kinds, ['on', 'off', 'send'], `${who}: typing then send: ${JSON.stringify(frames)}`);
      }
    });
  });
