// Bot first, a person at any time (docs/BOT.md). The demo shop's bot is on (`scene(…, { bot: true })`).
// An admin adds a FAQ rule in Settings → Bot; a visitor opening the widget is greeted by the bot with
// quick replies, clicks one and gets the FAQ answer (with that answer's own quick replies), asks about
// the new rule, then taps "Talk to a person": the bot hands over, the "Talk to a person" row goes, and
// the advisor's dashboard — where the conversation showed "With bot" until then — gets it with a
// private note of what the bot learned, and answers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scene, screenshot, waitForText, logIn } from './harness.mjs';

test('the bot greets, answers a FAQ from a quick reply, and hands over to an advisor who answers', { timeout: 180_000 }, async () => {
  await scene('bot', async ({ relay, browser }) => {
    const advisor = await browser('advisor');
    const a = advisor.page;
    await logIn(a, relay);
    await a.locator('.conv-list').waitFor();

    // Always open, so the greeting has no "we're closed" line whatever the time of the run.
    const hours = await a.evaluate(async () => {
      const day = { open: '00:00', close: '24:00' };
      const r = await fetch('/api/v1/admin/settings/business-hours', {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ timezone: 'Europe/Paris', days: Array(7).fill(day) }),
      });
      return r.status;
    });
    assert.equal(hours, 200);

    // Settings → Bot: the demo's rules are there; add one and save.
    await a.goto(relay.dashboardUrl + '#admin');
    await a.locator('.admin-page .tab').filter({ hasText: 'Bot' }).click();
    await a.locator('.bot-form .bot-rule').first().waitFor();
    assert.ok(await a.locator('.bot-form .bot-enabled').isChecked(), 'the demo bot is on');
    await screenshot(a, 'bot-admin-top');
    const before = await a.locator('.bot-form .bot-rule').count();
    await a.locator('.bot-form button.bot-add-rule').click();
    const rule = a.locator('.bot-form .bot-rule').nth(before);
    await rule.locator('.bot-keywords').fill('gift card, voucher');
    await rule.locator('.bot-answer').fill('Gift cards come in €25, €50 and €100, by e-mail within minutes.');
    await rule.locator('.bot-replies').fill('Shipping times');
    await a.locator('.bot-form button.bot-save').click();
    await waitForText(a.locator('.bot-form .form-ok'), 'Saved', 'the bot saved');
    await screenshot(a, 'bot-admin-editor');
    await a.goto(relay.dashboardUrl + '#');
    await a.locator('.conv-list').waitFor();

    // The visitor opens the chat: the bot's greeting, its suggestions, and "Talk to a person".
    const visitor = await browser('visitor');
    const v = visitor.page;
    await v.goto(relay.shopUrl + '/');
    await v.locator('#confab-widget .confab-launcher').click();
    const bot = v.locator('.confab-msg[data-author="bot"] .confab-msg-text');
    await waitForText(bot, "I'm the Northwind assistant", 'the greeting');
    const quick = v.locator('.confab-bot button.confab-quick');
    await waitForText(quick, 'Shipping times', 'the greeting\'s quick replies');
    assert.deepEqual(await quick.allInnerTexts(), ['Shipping times', 'Returns', 'Size guide']);
    await waitForText(v.locator('.confab-bot button.confab-handoff'), 'Talk to a person', 'the hand-off button');
    await screenshot(v, 'bot-greeting');

    // The greeting alone is no conversation: nothing in the inbox yet.
    assert.equal(await a.locator('.conv-list .conv-item .conv-bot').count(), 0, 'a greeted visitor who said nothing');

    // A quick reply sends its text; the FAQ answer comes with its own quick replies.
    await quick.filter({ hasText: 'Shipping times' }).click();
    await waitForText(v.locator('.confab-msg[data-author="visitor"] .confab-msg-text'), 'Shipping times', 'the quick reply as a message');
    await waitForText(bot, 'We ship within 1 business day', 'the FAQ answer');
    await waitForText(quick, 'Track my order', 'the answer\'s quick replies');
    assert.deepEqual(await quick.allInnerTexts(), ['Track my order', 'Returns'], 'only the newest message\'s buttons');
    await screenshot(v, 'bot-faq-answer');

    // Now the visitor has written: the advisor sees the conversation "With bot" (in nobody's queue).
    const row = a.locator('.conv-list .conv-item').filter({ has: a.locator('.conv-bot') });
    await row.first().waitFor();
    const id = await row.first().getAttribute('data-id');
    const byId = a.locator(`.conv-item[data-id="${id}"]`);
    await waitForText(byId.locator('.conv-bot'), 'With bot', 'the "With bot" tag');
    await screenshot(a, 'bot-inbox-with-bot');

    // The rule the admin just added answers too.
    await v.locator('textarea.confab-composer').fill('Do you sell gift cards?');
    await v.locator('button.confab-send').click();
    await waitForText(bot, 'Gift cards come in', 'the new rule\'s answer');

    // "Talk to a person": the bot hands over, and its row goes.
    await v.locator('.confab-bot button.confab-handoff').click();
    await waitForText(bot, "I'm passing you to a person", 'the hand-off message');
    await v.locator('.confab-bot button').first().waitFor({ state: 'detached' });
    await screenshot(v, 'bot-handed-over');

    // The advisor's dashboard: no longer "With bot"; the note says what the bot learned.
    await byId.locator('.conv-bot').waitFor({ state: 'detached' });
    await byId.click();
    const note = a.locator('.thread .msg.note').filter({ hasText: 'Handed over by the bot' });
    await note.waitFor();
    const noteText = await note.innerText();
    assert.match(noteText, /Question: Do you sell gift cards\?/);
    assert.match(noteText, /asked for a person/);
    await a.locator('textarea.composer').fill('Hi, Alex here — which amount would you like?');
    await a.locator('button.send').click();
    await screenshot(a, 'bot-advisor-note');

    await waitForText(v.locator('.confab-msg[data-author="advisor"] .confab-msg-text'), 'Alex here', 'the advisor\'s answer in the widget');
    const shown = await v.locator('.confab-msg').allInnerTexts();
    assert.ok(!shown.some((t) => t.includes('Handed over by the bot')), 'the note stays with the advisors');
    await screenshot(v, 'bot-advisor-answers');
  }, { bot: true });
});
