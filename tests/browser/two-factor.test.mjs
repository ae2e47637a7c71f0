// Issue 5 ("Accounts and access"): optional TOTP two-factor in the dashboard. The admin turns it
// on from Account (QR code and key shown once, confirmed with a code), logs out, and the login page
// then asks for the code. The admin requires two-factor for everyone; a new advisor is made to
// enrol right after their password, before the inbox opens. Codes are computed here (RFC 6238).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { scene, screenshot, unique, logIn } from './harness.mjs';

function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0; let value = 0; const out = [];
  for (const c of text.replace(/=+$/, '')) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) { bits -= 8; out.push((value >>> bits) & 0xff); }
  }
  return Buffer.from(out);
}

/** The code for the 30-second step `offset` steps from now. */
function totp(key, offset = 0) {
  const step = Math.floor(Date.now() / 30_000) + offset;
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const h = crypto.createHmac('sha1', base32Decode(key)).update(counter).digest();
  const o = h[19] & 15;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

test('two-factor: enrol from Account, log in with a code, and forced enrolment when an admin requires it', { timeout: 150_000 }, async () => {
  await scene('two-factor', async ({ relay, browser }) => {
    const admin = await browser('admin');
    const a = admin.page;
    // The password-only login of an account with two-factor answers 401 totp_required, which the
    // browser logs.
    admin.allow = [/status of 401 \(Unauthorized\)/];
    await logIn(a, relay);
    await a.locator('.me-links a.account-link').click();
    await a.locator('.account-page button.primary', { hasText: 'Set up two-factor' }).click();
    await a.locator('.totp-setup img.totp-qr').waitFor();
    const key = (await a.locator('.totp-secret code').textContent()).trim();
    assert.match(key, /^[A-Z2-7]{32}$/);
    await screenshot(a, 'two-factor-setup');
    await a.locator('.totp-setup input.totp-code').fill(totp(key));
    await a.locator('.totp-setup button[type=submit]').click();
    await a.locator('.account-page .form-ok', { hasText: 'Two-factor login is on' }).waitFor();

    // Log out and back in: the code step.
    await a.locator('button.logout').click();
    await a.locator('form.login-form input[name=email]').fill(relay.email);
    await a.locator('form.login-form input[name=password]').fill(relay.password);
    await a.locator('form.login-form button[type=submit]').click();
    await a.locator('form.login-form input.login-code').waitFor();
    await screenshot(a, 'two-factor-login-code');
    // The confirming code's step is used up: the next step's code is the fresh one.
    await a.locator('form.login-form input.login-code').fill(totp(key, 1));
    await a.locator('form.login-form button[type=submit]').click();
    await a.locator('.me-links a.settings-link').waitFor();

    // A new advisor, then two-factor required for everyone.
    await a.locator('.me-links a.settings-link').click();
    const email = `cy-${unique('x').slice(-6)}@shop.test`;
    await a.locator('form.new-advisor input[name=name]').fill('Cy Park');
    await a.locator('form.new-advisor input[name=email]').fill(email);
    await a.locator('form.new-advisor button[type=submit]').click();
    const password = (await a.locator('.once-secret code.new-password').textContent()).trim();
    await a.locator('.tabs button', { hasText: 'Security' }).click();
    await a.locator('input.require-2fa').check();
    await a.locator('.settings-form button[type=submit]').click();
    await a.locator('.settings-form .form-ok').waitFor();

    const advisor = await browser('advisor');
    const b = advisor.page;
    // The refused first login (403: enrol first) is logged by the browser.
    advisor.allow = [/status of 403 \(Forbidden\)/];
    await b.goto(relay.dashboardUrl);
    await b.locator('form.login-form input[name=email]').fill(email);
    await b.locator('form.login-form input[name=password]').fill(password);
    await b.locator('form.login-form button[type=submit]').click();
    await b.locator('.login-enrol img.totp-qr').waitFor();
    assert.equal(await b.locator('.me-links').count(), 0, 'no inbox before enrolment');
    const theirs = (await b.locator('.login-enrol .totp-secret code').textContent()).trim();
    await screenshot(b, 'two-factor-forced-enrolment');
    await b.locator('.login-enrol input.totp-code').fill(totp(theirs));
    await b.locator('.login-enrol button[type=submit]').click();
    await b.locator('.me-links a.account-link').waitFor();
    const me = await b.evaluate(async () => (await fetch('/api/v1/admin/me')).json());
    assert.equal(me.two_factor, true);
  });
});
