// WhatsApp in the advisor's dashboard, against the Graph API sandbox that `confab-relay demo` starts
// (it prints `phone on http://…/phone`): a customer writes from the sandbox's phone page; the inbox
// row and the message carry the WhatsApp badge; the composer says how long the 24-hour window
// leaves; the advisor's reply goes out through the sandbox, its ticks only move forward
// (queued → sent → delivered), it appears on the phone, and turns to read (blue ticks) once the
// customer looks at it. A photo and a document sent from the phone show inline once the relay
// has fetched them. A web visitor who continued on WhatsApp can be answered in the web thread only
// or on WhatsApp ("Reply via"), and the advisor can undo the link ("Unlink").

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scene, screenshot, unique, waitForText, logIn, STEP_MS } from './harness.mjs';

/** The sandbox's phone page: from the harness when it reads it, else from the relay's output. */
async function phoneUrl(relay) {
  const deadline = Date.now() + STEP_MS;
  for (;;) {
    const m = relay.phoneUrl ?? relay.log().match(/phone on (https?:\/\/\S+)/)?.[1];
    if (m) return m;
    if (Date.now() > deadline) {
      throw new Error('the relay did not print "phone on http://…/phone": is the Graph sandbox wired into `demo`?');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Hides (or shows again) a page as a background tab would be: the phone page marks what it shows as read only while visible. */
async function setHidden(page, hidden) {
  await page.evaluate((hidden) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

/**
 * Records every `data-state` the element matching `selector` takes (once it exists), so the test
 * can check the states only moved forward whatever the timing. Returns a function that reads them.
 */
async function recordStates(page, selector) {
  await page.evaluate((selector) => {
    window.__states = [];
    const note = () => {
      const el = document.querySelector(selector);
      const state = el?.getAttribute('data-state');
      if (state && window.__states.at(-1) !== state) window.__states.push(state);
    };
    new MutationObserver(note).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
    note();
  }, selector);
  return () => page.evaluate(() => window.__states);
}

const ORDER = ['sending', 'queued', 'sent', 'delivered', 'read'];

test('a WhatsApp customer writes from the phone, the advisor replies and sees the ticks', { timeout: 150_000 }, async () => {
  await scene('channels-dashboard', async ({ relay, browser }) => {
    const phoneAt = await phoneUrl(relay);
    const question = unique('Oi! Do you have the Ridgeline 2 in green?');
    const answer = unique('We do, and it ships tomorrow.');

    // The customer, on the sandbox's phone page as a WhatsApp user.
    const customer = await browser('customer', { viewport: { width: 1100, height: 820 } });
    const p = customer.page;
    await p.goto(`${phoneAt}?channel=whatsapp`);
    await p.locator('#composer').fill(question);
    await p.locator('#composer').press('Enter');
    await waitForText(p.locator('#messages .row.mine .text'), question, 'the customer\'s message on the phone');
    // From now on the phone is in the background: the reply must stay unread until they look.
    await setHidden(p, true);

    // The advisor: the row carries the WhatsApp badge.
    const advisor = await browser('advisor');
    const a = advisor.page;
    await logIn(a, relay);
    await waitForText(a.locator('.conv-list .conv-item'), question, 'the WhatsApp conversation in the inbox');
    const row = a.locator('.conv-list .conv-item').filter({ hasText: question });
    assert.equal(await row.getAttribute('data-channel'), 'whatsapp');
    await row.locator('.ch-badge[data-channel="whatsapp"]').first().waitFor();
    assert.match(await row.getAttribute('aria-label'), /via WhatsApp/);

    // The thread: the message is badged, the composer counts down the 24-hour window, the header
    // lists the customer's WhatsApp identity, and there is no channel to choose.
    await row.click();
    const incoming = a.locator('.thread .msg[data-author="visitor"]').filter({ hasText: question });
    await incoming.waitFor();
    assert.equal(await incoming.getAttribute('data-channel'), 'whatsapp');
    await incoming.locator('.ch-badge[data-channel="whatsapp"]').waitFor();
    const windowLine = a.locator('.composer-window[data-channel="whatsapp"][data-state="open"]');
    await waitForText(windowLine, 'left to reply', 'the time left in the WhatsApp window');
    assert.match(await windowLine.innerText(), /WhatsApp · 2\d h( \d+ min)? left to reply/);
    await a.locator('.thread-head .identity[data-channel="whatsapp"]').waitFor();
    assert.equal(await a.locator('select.reply-via').count(), 0, 'one channel: nothing to choose');

    // The reply: its ticks only move forward, to delivered while the phone is in the background.
    await a.locator('textarea.composer').fill(answer);
    const states = await recordStates(a, `.thread .msg.own[data-channel="whatsapp"]`);
    await a.locator('button.send').click();
    const reply = a.locator('.thread .msg.own').filter({ hasText: answer });
    await reply.waitFor();
    assert.equal(await reply.getAttribute('data-channel'), 'whatsapp');
    await reply.and(a.locator('[data-state="delivered"]')).waitFor();
    await waitForText(reply.locator('.msg-state.ticks'), 'Delivered', 'the delivered ticks');
    await screenshot(a, 'channels-dashboard-delivered');

    // On the phone, the reply has arrived; the customer looks: read, in blue.
    await waitForText(p.locator('#messages .row.theirs .text'), answer, 'the advisor\'s reply on the phone');
    await setHidden(p, false);
    await reply.and(a.locator('[data-state="read"]')).waitFor();
    await waitForText(reply.locator('.msg-state.ticks'), 'Read', 'the read ticks');
    assert.equal(await a.locator('.msg-failure').count(), 0, 'nothing failed');
    await screenshot(a, 'channels-dashboard-read');
    await screenshot(p, 'channels-dashboard-phone');

    const seen = await states();
    assert.equal(seen.at(-1), 'read', `the last state: ${JSON.stringify(seen)}`);
    for (let i = 1; i < seen.length; i++) {
      assert.ok(ORDER.indexOf(seen[i]) > ORDER.indexOf(seen[i - 1]), `states only move forward: ${JSON.stringify(seen)}`);
    }
  });
});

test('a photo and a document from WhatsApp show in the thread once fetched', { timeout: 120_000 }, async () => {
  await scene('channels-dashboard-media', async ({ relay, browser }) => {
    const phoneAt = await phoneUrl(relay);
    const hello = unique('Here is the damage');
    const send = async (body) => {
      const r = await fetch(new URL('/phone/api/send', phoneAt), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ channel: 'whatsapp', user: '+55 11 98765 4321', name: 'Ana Souza', ...body }),
      });
      assert.ok(r.ok, `the phone sent ${body.kind}: ${r.status} ${await r.text()}`);
    };
    await send({ kind: 'text', text: hello });
    await send({ kind: 'image', caption: 'The tent pole' });
    await send({ kind: 'document' });

    const advisor = await browser('advisor');
    const a = advisor.page;
    await logIn(a, relay);
    await waitForText(a.locator('.conv-list .conv-item'), 'Ana Souza', 'the WhatsApp customer in the inbox');
    await a.locator('.conv-list .conv-item[data-channel="whatsapp"]').filter({ hasText: 'Ana Souza' }).click();
    await waitForText(a.locator('.thread .msg[data-author="visitor"] .msg-text'), hello, 'the text before the files');

    // The photo: inline, served by the relay to the logged-in advisor.
    const photo = a.locator('.thread .msg-attachment[data-kind="image"][data-state="ready"] img');
    await photo.waitFor();
    assert.match(await photo.getAttribute('src'), /^\/dashboard\/api\/attachments\/[^/]+$/);
    await a.waitForFunction((img) => img.complete && img.naturalWidth > 0, await photo.elementHandle());

    // The document: a card with its name and size, linking to the file.
    const doc = a.locator('.thread .msg-attachment[data-kind="document"][data-state="ready"] a.msg-file');
    await doc.waitFor();
    await waitForText(doc.locator('.msg-file-name'), 'warranty-card.pdf', 'the document\'s name');
    assert.match(await doc.locator('.msg-file-size').innerText(), /^\d+(\.\d)? (bytes|KB|MB)$/);
    const file = await a.evaluate(async (href) => {
      const r = await fetch(href);
      return { status: r.status, type: r.headers.get('content-type') };
    }, await doc.getAttribute('href'));
    assert.equal(file.status, 200, 'the relay serves the document to the advisor');
    assert.match(file.type ?? '', /pdf/);
    assert.equal(await a.locator('.msg-attachment[data-state="failed"]').count(), 0);
    await screenshot(a, 'channels-dashboard-media');
  });
});

test('a visitor who continued on WhatsApp: reply via the web thread or WhatsApp, then unlink', { timeout: 150_000 }, async () => {
  await scene('channels-dashboard-linked', async ({ relay, browser }) => {
    const phoneAt = await phoneUrl(relay);
    const question = unique('Can I pick the tent up in store?');
    const webOnly = unique('Yes, at any of our shops.');
    const onWhatsapp = unique('Bring your order number.');

    // The visitor writes on the web, then follows "Continue on WhatsApp" to the sandbox phone.
    const visitor = await browser('visitor');
    const v = visitor.page;
    await v.goto(relay.shopUrl + '/');
    await v.locator('#confab-widget .confab-launcher').click();
    await v.locator('textarea.confab-composer').fill(question);
    await v.locator('button.confab-send').click();
    const link = v.locator('a.confab-continue[data-channel="whatsapp"]');
    await link.waitFor();
    const [p] = await Promise.all([visitor.context.waitForEvent('page'), link.click()]);
    await p.waitForLoadState();
    assert.equal(new URL(p.url()).origin, new URL(phoneAt).origin, `the phone page (${p.url()})`);
    const number = '+44 7700 9' + String(Math.floor(Math.random() * 1e5)).padStart(5, '0');
    await p.locator('#name').fill('Sam Rivera');
    await p.locator('#user').fill(number);
    const code = (await p.locator('#composer').inputValue()).match(/\(code ([A-Z0-9-]+)\)/)?.[1];
    assert.ok(code, 'the prefilled text has its one-time code');
    await p.locator('#send').click();
    await waitForText(p.locator('.row.mine .text'), code, 'the prefilled message on the phone');

    // The advisor: one row with both channels, the linked identity, and a channel to choose.
    const advisor = await browser('advisor');
    const a = advisor.page;
    await logIn(a, relay);
    await waitForText(a.locator('.conv-list .conv-item'), code, 'the linked conversation in the inbox');
    const row = a.locator('.conv-list .conv-item').filter({ hasText: code });
    await row.locator('.ch-badge[data-channel="web"]').waitFor();
    await row.locator('.ch-badge[data-channel="whatsapp"]').waitFor();
    await row.click();
    const identity = a.locator('.thread-head .identity[data-channel="whatsapp"][data-linked="true"]');
    await identity.waitFor();
    const via = a.locator('select.reply-via');
    await via.waitFor();
    const options = await via.locator('option').evaluateAll((os) => os.map((o) => o.value));
    assert.deepEqual(options, ['default', 'web'], 'WhatsApp (where they last wrote) or the web thread only');

    // Web thread only: the widget gets it, the phone doesn't.
    await via.selectOption('web');
    await waitForText(a.locator('.composer-window[data-channel="web"]'), 'Web thread only', 'the web-only line');
    await a.locator('textarea.composer').fill(webOnly);
    await a.locator('button.send').click();
    const webReply = a.locator('.thread .msg.own').filter({ hasText: webOnly });
    await webReply.and(a.locator('[data-channel="web"]')).waitFor();
    await waitForText(v.locator('.confab-msg[data-author="advisor"] .confab-msg-text'), webOnly, 'the web-only reply in the widget');

    // Back to WhatsApp: it reaches the phone, with ticks.
    await via.selectOption('default');
    await waitForText(a.locator('.composer-window[data-channel="whatsapp"]'), 'left to reply', 'the WhatsApp window');
    await a.locator('textarea.composer').fill(onWhatsapp);
    await a.locator('button.send').click();
    const waReply = a.locator('.thread .msg.own').filter({ hasText: onWhatsapp });
    await waReply.and(a.locator('[data-channel="whatsapp"]')).waitFor();
    await waitForText(p.locator('.row.theirs .text'), onWhatsapp, 'the WhatsApp reply on the phone');
    await waReply.and(a.locator('[data-state="delivered"], [data-state="read"]')).waitFor();
    const onPhone = await p.locator('.row.theirs .text').allInnerTexts();
    assert.ok(!onPhone.some((t) => t.includes(webOnly)), `the web-only reply never reached the phone: ${JSON.stringify(onPhone)}`);
    await screenshot(a, 'channels-dashboard-linked');

    // Unlink, after a confirmation: the relay answers with the row without that identity.
    await identity.locator('button.unlink').click();
    await waitForText(identity.locator('.unlink-ask'), 'Unlink WhatsApp', 'the confirmation');
    await identity.locator('button.unlink-confirm').click();
    await identity.waitFor({ state: 'detached' });
    assert.equal(await a.locator('.identity-error').count(), 0, 'the relay accepted the unlink');
    await screenshot(a, 'channels-dashboard-unlinked');
  });
});
