// The console over HTTPS (`tandem demo --tls`, a self-signed certificate the
// browser is told to accept, as a user would after checking its fingerprint):
// log in, a Secure session cookie, Strict-Transport-Security on answers, the
// camera list, live pictures pushed over the TLS connection, a recall.
// Started by crates/tandem/tests/console.rs (environment: harness.mjs).
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { chromiumPath, password, shots, step, until, url } from "./harness.mjs";

assert.match(url, /^https:\/\//, "the demo serves HTTPS");
const browser = await chromium.launch({
  executablePath: chromiumPath,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ignoreHTTPSErrors: true });
  const page = await context.newPage();
  step("log in over HTTPS");
  await page.goto(url);
  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.locator('#camlist a[data-camera="cam-1"]').waitFor();

  step("the session cookie is Secure and HttpOnly; answers carry HSTS");
  const cookies = await context.cookies();
  assert.ok(cookies.length > 0, "a session cookie");
  for (const c of cookies) {
    assert.equal(c.secure, true, `${c.name} is Secure`);
    assert.equal(c.httpOnly, true, `${c.name} is HttpOnly`);
  }
  const hsts = await page.evaluate(async () => (await fetch("/api/v1/sites", { credentials: "same-origin" })).headers.get("strict-transport-security"));
  assert.match(hsts || "", /^max-age=\d+/, "Strict-Transport-Security");

  step("a camera's live picture is pushed over the TLS connection");
  await page.locator('#camlist a[data-camera="cam-1"]').click();
  await until("pictures on the tile", async () => {
    const frames = await page.locator("#tiles .tile img").evaluateAll((imgs) => imgs.map((i) => Number(i.dataset.frames || 0)));
    return frames.length > 0 && frames.every((f) => f > 0);
  });

  step("a recall through the HTTPS console");
  const recall = page.locator("#preset-rows button[aria-label^='Recall']").first();
  await recall.click();
  await until("no error shown", async () => (await page.locator(".toast.error").count()) === 0, 3000);
  await page.screenshot({ path: `${shots}/12-https.png` });
  console.log("https end-to-end: all steps passed");
} finally {
  await browser.close();
}
