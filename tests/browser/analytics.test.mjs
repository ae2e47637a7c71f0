// Issue 5 ("Analytics"): after some traffic — two visitors write, the advisor answers one from the
// dashboard — the analytics page (header link → #analytics) draws its SVG charts from
// GET /api/v1/analytics: stacked bars for today, a bar for the advisor, and number tiles. The
// period picker asks again; "← Inbox" goes back to the conversations.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scene, screenshot, unique, waitForText, logIn } from './harness.mjs';

async function visitorWrites(browser, relay, who, text) {
  const visitor = await browser(who);
  const v = visitor.page;
  await v.goto(relay.shopUrl + '/');
  await v.locator('#confab-widget .confab-launcher').click();
  await v.locator('textarea.confab-composer').fill(text);
  await v.locator('button.confab-send').click();
  await v.locator('.confab-msg[data-author="visitor"][data-state="sent"]').waitFor();
  return v;
}

test('the analytics page charts the traffic and shows the figures as numbers', { timeout: 150_000 }, async () => {
  await scene('analytics', async ({ relay, browser }) => {
    const question = unique('Do you have this tent in green?');
    const other = unique('What are your opening hours?');
    const answer = unique('We do, in all sizes.');

    const v = await visitorWrites(browser, relay, 'visitor', question);
    await visitorWrites(browser, relay, 'visitor-2', other);

    // Tall enough for the screenshot to show the advisor chart below the day chart.
    const advisor = await browser('advisor', { viewport: { width: 1280, height: 1180 } });
    const a = advisor.page;
    await logIn(a, relay);
    await a.locator('.conv-list .conv-item').filter({ hasText: question }).click();
    await a.locator('textarea.composer').fill(answer);
    await a.locator('button.send').click();
    await waitForText(v.locator('.confab-msg[data-author="advisor"] .confab-msg-text'), answer, 'the reply in the widget');

    await a.locator('a.header-link[href="#analytics"]').click();
    await a.locator('.analytics-page .tiles').waitFor();
    assert.equal(await a.title(), 'Analytics · Confab');
    assert.equal(await a.locator('.period[data-days="7"]').getAttribute('aria-pressed'), 'true');

    // Stacked bars: the demo may have seeded conversations of its own, so at least our two today.
    const dayBars = a.locator('svg.day-chart rect.bar');
    assert.ok(await dayBars.count() >= 1, 'the day chart has bars');
    const counted = (await dayBars.evaluateAll((rects) => rects.map((r) => Number(r.dataset.count))))
      .reduce((sum, n) => sum + n, 0);
    assert.ok(counted >= 2, `bars add up to at least our two conversations: ${counted}`);
    assert.equal(await a.locator('svg.day-chart text.axis-title').count(), 2, 'both axes are labelled');
    assert.ok(await a.locator('svg.advisor-chart rect.bar-advisor').count() >= 1, 'a bar for the advisor');

    const tile = (metric) => a.locator(`.tile[data-metric="${metric}"] .tile-value`);
    assert.ok(Number(await tile('conversations').innerText()) >= 2);
    assert.match(await tile('frt-median').innerText(), /^\d+ (s|min|h|d)/, 'the first-response median is a duration');
    assert.match(await tile('frt-p90').innerText(), /^\d+ (s|min|h|d)/);
    assert.match(await tile('backlog').innerText(), /^\d+$/);
    assert.ok(Number(await tile('backlog').innerText()) >= 1, 'the unanswered conversation is open');
    await waitForText(a.locator('.tile[data-metric="frt-median"] .tile-sub'), 'unanswered', 'the unanswered count');
    await screenshot(a, 'analytics-7-days');

    // Another period: the request goes out again and the chart has a bar slot per day.
    const asked = a.waitForResponse((r) => r.url().includes('/api/v1/analytics') && r.status() === 200);
    await a.locator('.period[data-days="30"]').click();
    const body = await (await asked).json();
    assert.equal(body.days.length, 30);
    await a.locator('.period[data-days="30"][aria-pressed="true"]').waitFor();
    await a.locator('svg.day-chart rect.bar').first().waitFor();
    await screenshot(a, 'analytics-30-days');
    const asked90 = a.waitForResponse((r) => r.url().includes('/api/v1/analytics') && r.status() === 200);
    await a.locator('.period[data-days="90"]').click();
    assert.equal((await (await asked90).json()).days.length, 90);
    await a.locator('.period[data-days="90"][aria-pressed="true"]').waitFor();
    await a.locator('svg.day-chart rect.bar').first().waitFor();
    await screenshot(a, 'analytics-90-days');

    // Back to the inbox, where the row now shows the reply as its last message.
    await a.locator('a.back-link').click();
    await a.locator('.conv-list .conv-item').filter({ hasText: answer }).waitFor();
    await a.waitForFunction(() => !document.title.includes('Analytics'));
    assert.match(await a.title(), /^(\(\d+\) )?(Inbox · )?Confab$/, 'the inbox title (with its unread count) is back');
  });
});
