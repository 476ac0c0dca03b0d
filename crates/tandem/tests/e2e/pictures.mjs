// With two ONVIF sites (`tandem demo --secondary onvif`) every preset saved
// through tandem has a picture on each site. Someone changes the preset at
// the secondary's camera; the difference then shows both sites' pictures,
// side by side. Started by crates/tandem/tests/console.rs (environment:
// harness.mjs).
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { chromiumPath, password, shots, sim, step, until, url } from "./harness.mjs";

const browser = await chromium.launch({
  executablePath: chromiumPath,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
try {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  step("log in and save a preset on camera 5");
  await page.goto(url);
  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.locator('#camlist a[data-camera="cam-5"]').click();
  await page.locator('#camlist a[data-camera="cam-5"][aria-current="true"]').waitFor();
  await page.locator("#new-number").fill("43");
  await page.locator("#new-name").fill("Both sides");
  await page.getByRole("button", { name: "Save current view" }).click();
  const row = page.locator('tr[data-preset="43"]');
  await row.locator('.chip[data-site="secondary"][data-state="applied"]').waitFor();

  step("someone renames it at the secondary's camera; a scan finds it");
  const changed = await fetch(`${sim}/api/sites/2/cameras/5/presets/43`, {
    method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "Both sides (S)" }),
  });
  assert.equal(changed.status, 200, "the simulator changed the preset");
  const scanned = await page.evaluate(async () => (await fetch("/api/v1/scans", {
    method: "POST", credentials: "same-origin", headers: { "content-type": "application/json" }, body: "{}",
  })).status);
  assert.equal(scanned, 200);
  const diff = page.locator('#mismatches tr[data-kind="name_differs"]', { hasText: "Both sides" });
  await diff.waitFor();

  step("each side shows its own site's picture of the preset");
  for (const side of ["primary", "secondary"]) {
    const img = diff.locator(`.side[data-side="${side}"] img.thumb`);
    await until(`the ${side}'s picture`, async () => (await img.evaluate((i) => (i.hidden ? 0 : i.naturalWidth))) > 0);
    assert.match(await img.getAttribute("src"), new RegExp(`presets/43/picture\\?site=${side}$`));
  }
  await diff.scrollIntoViewIfNeeded();
  await diff.screenshot({ path: `${shots}/11-pictures-both-sides.png` });
  console.log("pictures end-to-end: all steps passed");
} finally {
  await browser.close();
}
