// Issue 5's browser test: two advisors in two browsers. Alex (the demo admin) adds Bea, who takes
// at most one conversation. Alex steps away: the next customer goes to Bea; the one after waits
// in line and the widget says so; when Alex comes back online the waiting customer is his at once.
// Bea transfers her conversation to Alex; Alex writes a private note the customer never sees,
// answers with a canned response, resolves; the customer writes again and the conversation reopens, back with Alex.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scene, screenshot, unique, waitForText, logIn } from './harness.mjs';

/** A JSON call to the relay's API from a logged-in dashboard page (same origin, its cookie). */
async function api(page, method, path, body) {
  return page.evaluate(async ({ method, path, body }) => {
    const r = await fetch(path, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  }, { method, path, body });
}

/** Waits until the open conversation's assignee picker shows `value` (`a:ID`, or `none`). */
async function assignee(page, value) {
  await page.waitForFunction((v) => document.querySelector('.assign-pick')?.value === v, value, { timeout: 15_000 })
    .catch(async (e) => {
      const now = await page.locator('.assign-pick').inputValue().catch(() => '(no picker)');
      throw new Error(`assignee: expected ${value}, shows ${now}`, { cause: e });
    });
}

/** A customer on the shop who opens the widget and writes `text`. */
async function customer(browser, who, relay, text) {
  const b = await browser(who);
  const page = b.page;
  await page.goto(relay.shopUrl + '/');
  await page.locator('#confab-widget .confab-launcher').click();
  await page.locator('textarea.confab-composer').fill(text);
  await page.locator('button.confab-send').click();
  // Acked: sent, or already delivered to an advisor's dashboard.
  await page.locator('.confab-msg[data-author="visitor"]:not([data-state="sending"]):not([data-state="failed"])')
    .filter({ hasText: text }).waitFor();
  return page;
}

test('two advisors: assignment by capacity and status, the queue, transfer, a note, resolve and reopen', { timeout: 240_000 }, async () => {
  await scene('team', async ({ relay, browser }) => {
    // Alex, the admin, adds Bea (capacity 1).
    const alex = (await browser('alex')).page;
    await logIn(alex, relay);
    await alex.locator('.conv-list').waitFor();
    const created = await api(alex, 'POST', '/api/v1/admin/advisors',
      { email: 'bea@northwind.test', name: 'Bea Lind', password: 'bea has a long password' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const beaId = created.body.advisor.id;
    const cap = await api(alex, 'PATCH', `/api/v1/admin/advisors/${beaId}`, { capacity: 1 });
    assert.equal(cap.status, 200, JSON.stringify(cap.body));

    const bea = (await browser('bea')).page;
    await bea.goto(relay.dashboardUrl);
    await bea.locator('form.login-form input[name=email]').fill('bea@northwind.test');
    await bea.locator('form.login-form input[name=password]').fill('bea has a long password');
    await bea.locator('form.login-form button[type=submit]').click();
    await bea.locator('.presence-pick[data-presence="online"]').waitFor();

    // Alex steps away: he keeps his conversations and takes no new ones.
    await alex.locator('select.presence-pick').selectOption('away');
    await alex.locator('.presence-pick[data-presence="away"]').waitFor();

    // The first customer goes to Bea, the only advisor online.
    const first = unique('Do you ship to Norway?');
    const v1 = await customer(browser, 'customer-1', relay, first);
    await bea.locator('.view-tab[data-view="mine"]').click();
    const beaRow = bea.locator('.conv-list .conv-item').filter({ hasText: first });
    await beaRow.waitFor();
    await waitForText(beaRow.locator('.conv-waiting'), 'waiting', 'the waiting time on the row');

    // Bea is full (1/1): the second customer waits in line, and the widget says so.
    const second = unique('Is the green jacket back in stock?');
    const v2 = await customer(browser, 'customer-2', relay, second);
    await waitForText(v2.locator('.confab-presence'), 'number 1 in line', 'the place in line in the widget');
    await screenshot(v2, 'team-visitor-in-line');
    await alex.locator('.view-tab[data-view="unassigned"]').click();
    const waitingRow = alex.locator('.conv-list .conv-item').filter({ hasText: second });
    await waitingRow.waitFor();
    await waitForText(alex.locator('.oldest-waiting'), 'Longest wait', 'the longest wait');
    await screenshot(alex, 'team-inbox-unassigned');

    // Alex comes back: the waiting customer is his at once, and their widget stops counting.
    await alex.locator('select.presence-pick').selectOption('online');
    await alex.locator('.view-tab[data-view="mine"]').click();
    await alex.locator('.conv-list .conv-item').filter({ hasText: second }).waitFor();
    await v2.locator('.confab-presence').filter({ hasText: 'in line' }).waitFor({ state: 'detached' }).catch(async () => {
      const text = await v2.locator('.confab-presence').innerText();
      assert.ok(!text.includes('in line'), `the widget still counts: ${text}`);
    });

    // Bea hands her conversation to Alex.
    await beaRow.click();
    await bea.locator('.assign-pick').selectOption(`a:1`);
    await beaRow.waitFor({ state: 'detached' }); // no longer in her "Mine"
    const alexRow = alex.locator('.conv-list .conv-item').filter({ hasText: first });
    await alexRow.waitFor();
    await alexRow.click();
    await assignee(alex, 'a:1');

    // A private note, then the answer from a canned response: the customer sees only the answer.
    const note = unique('Norway: check customs rules before promising a date');
    const canned = await api(alex, 'POST', '/api/v1/canned',
      { shortcut: 'norway', text: 'Hi {{name}}, yes: we ship to Norway in 3–5 days.', shared: true });
    assert.equal(canned.status, 201, JSON.stringify(canned.body));
    await alex.locator('.composer-mode button.mode-note').click();
    await alex.locator('textarea.composer').fill(note);
    await alex.locator('button.send').click();
    await alex.locator('.thread .msg.note:not([data-state])').filter({ hasText: note }).waitFor();
    await alex.locator('.composer-mode button.mode-reply').click();
    const composer = alex.locator('textarea.composer');
    await composer.click();
    await composer.pressSequentially('/norw');
    await alex.locator('.canned-menu .canned-item[data-shortcut="norway"]').waitFor();
    await composer.press('Enter');
    const answer = await composer.inputValue();
    assert.match(answer, /^Hi there, yes: we ship to Norway/, 'the canned text, with no name known yet');
    await alex.locator('button.send').click();
    await waitForText(v1.locator('.confab-msg[data-author="advisor"] .confab-msg-text'), answer, 'the answer in the widget');
    const shown = await v1.locator('.confab-msg').allInnerTexts();
    assert.ok(!shown.some((t) => t.includes(note)), `the widget shows the note: ${JSON.stringify(shown)}`);
    await screenshot(alex, 'team-conversation');

    // Resolve; the customer writes again: open again, and still Alex's.
    await alex.locator('.thread-actions button.resolve').click();
    await alex.locator('.thread-actions button.reopen').waitFor();
    const again = unique('One more thing: gift wrap?');
    await v1.locator('textarea.confab-composer').fill(again);
    await v1.locator('button.confab-send').click();
    await alex.locator('.thread-actions button.resolve').waitFor();
    const reopened = alex.locator('.conv-list .conv-item[data-status="open"]').filter({ hasText: again });
    await reopened.waitFor();
    await assignee(alex, 'a:1'); // the returning customer is back with Alex
    await screenshot(alex, 'team-inbox-mine');

    // The lead's numbers: this traffic in the analytics page.
    await alex.locator('a.header-link[href="#analytics"]').click();
    await alex.locator('.analytics-page .tiles').waitFor();
    await alex.locator('.analytics-page svg rect').first().waitFor();
    await screenshot(alex, 'team-analytics');
  });
});
