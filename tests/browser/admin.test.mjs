// Issue 5 ("Accounts and access"): the admin screens. The demo advisor (the first account, so an
// admin) opens Settings from the inbox header, creates an advisor (the generated password is shown
// once), sets their capacity, creates a team with a first-response target and puts the advisor in
// it, and edits the demo site (greeting, the team that answers it). Every change is checked
// through the admin API too. The new advisor logs in with the generated password and sees no
// Settings link; opening #admin by hand shows the relay's refusal.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scene, screenshot, unique, waitForText, logIn } from './harness.mjs';

/** GET a JSON admin resource with the page's session. */
function api(page, path) {
  return page.evaluate(async (p) => (await fetch(p)).json(), path);
}

async function until(what, check) {
  const end = Date.now() + 10_000;
  for (;;) {
    const got = await check();
    if (got) return got;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('an admin manages advisors, teams and sites from Settings; an advisor has no Settings', { timeout: 150_000 }, async () => {
  await scene('admin', async ({ relay, browser }) => {
    const email = `bo-${unique('x').slice(-6)}@shop.test`;
    const greeting = unique('Welcome to Northwind, ask us anything');

    const admin = await browser('admin');
    const a = admin.page;
    // The refusals this test provokes on purpose (the browser logs every 4xx answer).
    admin.allow = [/status of 400 \(Bad Request\)/];
    await logIn(a, relay);
    await a.locator('.me-links a.settings-link').click();
    await a.locator('.admin-page').waitFor();
    assert.match(a.url(), /#admin$/);

    // Advisors: create one; the generated password is shown once.
    await a.locator('form.new-advisor input[name=name]').fill('Bo Jensen');
    await a.locator('form.new-advisor input[name=email]').fill(email);
    await a.locator('form.new-advisor button[type=submit]').click();
    const password = (await a.locator('.once-secret code.new-password').textContent()).trim();
    assert.ok(password.length >= 16, `a generated password: ${password}`);
    const row = a.locator(`.adv-row[data-email="${email}"]`);
    await row.waitFor();

    // Capacity: saved when the field changes.
    await row.locator('input.adv-capacity').fill('3');
    await row.locator('input.adv-capacity').press('Tab');
    const bo = await until('capacity 3 stored', async () =>
      (await api(a, '/api/v1/admin/advisors')).find((x) => x.email === email && x.capacity === 3));
    assert.equal(bo.role, 'advisor');

    // An invalid capacity: the relay's sentence, inline.
    await row.locator('input.adv-capacity').fill('500');
    await row.locator('input.adv-capacity').press('Tab');
    await waitForText(a.locator('.card .form-error'), 'capacity must be between 0 and 100', 'the refusal, inline');
    await screenshot(a, 'admin-advisors');

    // Teams: create one with a target, and put Bo in it.
    await a.locator('.tabs button', { hasText: 'Teams' }).click();
    await a.locator('form.new-team input[name=team]').fill('Support');
    await a.locator('form.new-team input[name=target]').fill('5');
    await a.locator('form.new-team button[type=submit]').click();
    const team = a.locator('.team-card[data-team="Support"]');
    await team.waitFor();
    await team.locator('label.member', { hasText: 'Bo Jensen' }).locator('input').check();
    const support = await until('Bo in Support', async () =>
      (await api(a, '/api/v1/admin/teams')).find((t) => t.name === 'Support' && t.members.includes(bo.id)));
    assert.equal(support.first_response_target_ms, 300_000);

    // Sites: the demo site's greeting and team; the embed snippet names its key.
    await a.locator('.tabs button', { hasText: 'Sites' }).click();
    const site = a.locator('form.site-card[data-site="demo"]');
    await waitForText(site.locator('code.embed-snippet'), 'data-site="demo"', 'the embed snippet');
    await site.locator('textarea.site-greeting').fill(greeting);
    await site.locator('select.site-team').selectOption({ label: 'Support' });
    // French-speaking visitors get their own greeting; the demo's French reply time stays.
    const french = site.locator('fieldset.site-language[data-lang="fr"]');
    assert.match(await french.locator('input.site-reply-time-lang').inputValue(), /moins d'une heure/);
    await french.locator('textarea.site-greeting-lang').fill('Bonjour de la boutique !');
    await site.locator('button.site-save').click();
    await site.locator('.form-ok').waitFor();
    const demo = (await api(a, '/api/v1/admin/sites')).find((s) => s.key === 'demo');
    assert.equal(demo.greeting, greeting);
    assert.equal(demo.team_id, support.id);
    assert.deepEqual(demo.translations.map((t) => [t.lang, t.greeting]), [['fr', 'Bonjour de la boutique !']]);
    // A bad colour is refused with the reason, and nothing is saved.
    await site.locator('input.site-color').fill('teal');
    await site.locator('button.site-save').click();
    await waitForText(site.locator('.form-error'), 'must look like #4f46e5', 'the colour refusal');
    await screenshot(a, 'admin-sites');

    // The new advisor: logs in with the one-time password, has no Settings link.
    const advisor = await browser('advisor');
    const b = advisor.page;
    advisor.allow = [/403/];
    await b.goto(relay.dashboardUrl);
    await b.locator('form.login-form input[name=email]').fill(email);
    await b.locator('form.login-form input[name=password]').fill(password);
    await b.locator('form.login-form button[type=submit]').click();
    await b.locator('.me-links a.account-link').waitFor();
    await until('the role is known', async () => (await api(b, '/api/v1/admin/me')).role === 'advisor');
    await b.waitForTimeout(300);
    assert.equal(await b.locator('.settings-link').count(), 0, 'no Settings link for an advisor');
    await b.evaluate(() => { location.hash = 'admin'; });
    await waitForText(b.locator('.admin-page .form-error'), 'Only admins', 'the refusal for an advisor');
    await screenshot(b, 'admin-advisor-refused');
  });
});
