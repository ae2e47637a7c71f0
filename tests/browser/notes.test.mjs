// Issue 5 ("Inbox"), first slice: an advisor writes a private note in a conversation — shown in
// yellow as "Private note · only advisors see this" — and the visitor's widget never shows it, live
// or after a reload; not a byte of it crosses the visitor's socket. Then the advisor resolves the
// conversation (it leaves the "Open" inbox) and the visitor writing again reopens it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scene, screenshot, unique, waitForText, logIn } from './harness.mjs';

/** Every frame the relay sends to the page on the socket at `path`, as text, passed through unchanged. */
async function recordFromServer(context, path) {
  const frames = [];
  await context.routeWebSocket((url) => new URL(url).pathname === path, (ws) => {
    const server = ws.connectToServer();
    server.onMessage((m) => {
      frames.push(typeof m === 'string' ? m : m.toString());
      ws.send(m);
    });
  });
  return frames;
}

test('a private note is shown to advisors only, and resolve / reopen follow the visitor', { timeout: 150_000 }, async () => {
  await scene('notes', async ({ relay, browser }) => {
    const question = unique('Can I change my delivery address?');
    const secret = unique('Customer was rude last time; check the order before changing anything');
    const answer = unique('Yes, tell me the new one.');
    const again = unique('Thanks! One more question');

    const visitor = await browser('visitor');
    const v = visitor.page;
    const received = await recordFromServer(visitor.context, '/ws/visitor');
    await v.goto(relay.shopUrl + '/');
    await v.locator('#confab-widget .confab-launcher').click();
    await v.locator('textarea.confab-composer').fill(question);
    await v.locator('button.confab-send').click();
    await v.locator('.confab-msg[data-author="visitor"][data-state="sent"]').waitFor();

    const advisor = await browser('advisor');
    const a = advisor.page;
    await logIn(a, relay);
    const row = a.locator('.conv-list .conv-item').filter({ hasText: question });
    await row.and(a.locator('[data-status="open"]')).waitFor();
    const id = await row.getAttribute('data-id');
    const byId = a.locator(`.conv-item[data-id="${id}"]`);
    await row.click();

    // Note mode: the composer turns yellow; the note is shown apart, without receipts.
    await a.locator('.composer-mode button.mode-note').click();
    await a.locator('.composer-bar.note-mode').waitFor();
    await a.locator('textarea.composer').fill(secret);
    await a.locator('button.send').click();
    // Once acked (no "Sending…" any more) it has no state at all.
    const note = a.locator('.thread .msg.note:not([data-state])').filter({ hasText: secret });
    await note.waitFor();
    await waitForText(note.locator('.msg-note-label'), 'only advisors see this', 'the private-note label');
    assert.equal(await note.locator('.msg-state').count(), 0, 'a note has no receipts');
    await screenshot(a, 'notes-advisor-private-note');

    // Back to replying: the reply reaches the widget, the note never does.
    await a.locator('.composer-mode button.mode-reply').click();
    await a.locator('textarea.composer').fill(answer);
    await a.locator('button.send').click();
    await waitForText(v.locator('.confab-msg[data-author="advisor"] .confab-msg-text'), answer, 'the reply in the widget');
    await v.reload();
    await v.locator('#confab-widget .confab-launcher').click();
    await waitForText(v.locator('.confab-msg[data-author="advisor"] .confab-msg-text'), answer, 'the reply after a reload');
    const shown = await v.locator('.confab-msg').allInnerTexts();
    assert.ok(!shown.some((t) => t.includes(secret)), `the widget shows the note: ${JSON.stringify(shown)}`);
    assert.ok(received.length > 0, 'the visitor socket was recorded');
    assert.ok(!received.some((f) => f.includes(secret) || f.includes('"note"')), 'the note crossed the visitor socket');
    await screenshot(v, 'notes-visitor-never-sees-the-note');

    // Resolve: the conversation leaves the "Open" inbox, and is under "Resolved".
    await a.locator('.thread-actions button.resolve').click();
    await byId.waitFor({ state: 'detached' });
    await a.locator('.thread-actions button.reopen').waitFor();
    await a.locator('select.inbox-filter').selectOption('resolved');
    await byId.and(a.locator('[data-status="resolved"]')).waitFor();
    await screenshot(a, 'notes-advisor-resolved');

    // The visitor writes again: it is open again.
    await a.locator('select.inbox-filter').selectOption('all');
    await v.locator('textarea.confab-composer').fill(again);
    await v.locator('button.confab-send').click();
    await byId.and(a.locator('[data-status="open"]')).waitFor();
    await a.locator('.thread-actions button.resolve').waitFor();

    // Snooze for an hour: snoozed, with its time in the header; reopen by hand.
    await a.locator('.thread-actions button.snooze[data-until="1h"]').click();
    await byId.and(a.locator('[data-status="snoozed"]')).waitFor();
    await waitForText(a.locator('.thread-status'), 'Snoozed until', 'the snooze time in the header');
    await a.locator('.thread-actions button.reopen').click();
    await byId.and(a.locator('[data-status="open"]')).waitFor();
  });
});
