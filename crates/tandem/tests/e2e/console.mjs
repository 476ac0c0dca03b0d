// Drives the tandem console in Debian's Chromium, as an operator would, against
// a running `tandem demo`. Started by crates/tandem/tests/console.rs with:
//   TANDEM_URL       the console's address
//   TANDEM_PASSWORD  the admin's password
//   TANDEM_SIM       the simulator's control API (to check what the sites hold)
//   TANDEM_SHOTS     where to write screenshots
// Exits non-zero on the first failed expectation.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const url = process.env.TANDEM_URL;
const password = process.env.TANDEM_PASSWORD;
const sim = process.env.TANDEM_SIM;
const shots = process.env.TANDEM_SHOTS;
assert.ok(url && password && sim && shots, "TANDEM_URL, TANDEM_PASSWORD, TANDEM_SIM and TANDEM_SHOTS are needed");
mkdirSync(shots, { recursive: true });

const step = (name) => console.log(`step: ${name}`);
const shot = (page, name) => page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
const simGet = async (path) => {
  const res = await fetch(`${sim}${path}`);
  assert.equal(res.status, 200, `simulator ${path}`);
  return res.json();
};
// What a site holds: its VMS's presets when it is an XProtect site, else the camera's table.
const presetNames = async (site, camera) => {
  const vms = await fetch(`${sim}/api/sites/${site}/xprotect`);
  if (vms.status === 200) return (await vms.json()).cameras[camera - 1].presets.map((p) => p.name);
  return (await simGet(`/api/sites/${site}/cameras/${camera}/presets`)).presets.map((p) => p.name);
};
const until = async (what, check, ms = 15000) => {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
};

// Opens a camera from the list and waits until its page replaced the previous one:
// the hash change that renders it arrives after the click, so reading the page
// before then would read (or screenshot) the camera that is about to go away.
const openCamera = async (page, id) => {
  await page.locator(`#camlist a[data-camera="${id}"]`).click();
  await page.locator(`#camlist a[data-camera="${id}"][aria-current="true"]`).waitFor();
};

const browser = await chromium.launch({
  executablePath: process.env.TANDEM_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const problems = [];
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    // A refused request (the site taken down on purpose) is logged by the browser; a script error is not allowed.
    if (m.type() === "error" && !/Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
  });

  step("log in");
  await page.goto(url);
  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill("wrong password");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByText("Wrong user name or password.").waitFor();
  await page.getByLabel("Password").fill(password);
  await shot(page, "01-login");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.locator("#camlist a[data-camera]").first().waitFor();
  // The first background scan finds the seeded mismatches.
  await page.locator('#camlist [data-sync="warn"]').first().waitFor({ timeout: 20000 });
  assert.equal(await page.locator("#camlist a[data-camera]").count(), 8);
  await page.locator('.site[data-site="primary"][data-active="true"]').waitFor();

  step("move a camera and see the snapshot change");
  await openCamera(page, "cam-6");
  const frames = async () => Number((await page.locator("#snapshot").getAttribute("data-frames")) || 0);
  await until("a first snapshot", async () => (await frames()) > 0);
  const before = await page.locator(".video").screenshot();
  const pad = page.locator("#joystick");
  const box = await pad.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.95, box.y + box.height * 0.3, { steps: 4 });
  await page.waitForTimeout(1200);
  await page.mouse.up();
  const moved = await simGet("/api/cameras/6");
  assert.ok(moved.pan > 0.05, `joystick to the right pans right: ${JSON.stringify(moved)}`);
  assert.ok(moved.tilt > 0.01, `joystick up tilts up: ${JSON.stringify(moved)}`);
  await until("the camera to stop on release", async () => {
    const c = await simGet("/api/cameras/6");
    return !c.moving.pan_tilt;
  }, 3000);
  const seen = await frames();
  await until("a new snapshot", async () => (await frames()) > seen + 1);
  const after = await page.locator(".video").screenshot();
  assert.ok(!before.equals(after), "the live picture changed after the move");

  step("keyboard: arrow held pans, + zooms, digits recall");
  const panBefore = (await simGet("/api/cameras/6")).pan;
  await page.locator("#presets-title").click();
  await page.keyboard.down("ArrowLeft");
  await page.waitForTimeout(700);
  await page.keyboard.up("ArrowLeft");
  const panAfter = (await simGet("/api/cameras/6")).pan;
  assert.ok(panAfter < panBefore - 0.02, `ArrowLeft pans left: ${panBefore} -> ${panAfter}`);
  const zoomBefore = (await simGet("/api/cameras/6")).zoom;
  await page.keyboard.down("+");
  await page.waitForTimeout(600);
  await page.keyboard.up("+");
  assert.ok((await simGet("/api/cameras/6")).zoom > zoomBefore, "+ zooms in");
  await page.keyboard.press("1");
  await until("preset 1 recalled", async () => {
    const c = await simGet("/api/cameras/6");
    const p1 = (await simGet("/api/sites/1/cameras/6/presets")).presets.find((p) => p.token === "1");
    return p1 && Math.abs(c.pan - p1.position[0]) < 0.01 && Math.abs(c.tilt - p1.position[1]) < 0.01;
  });

  step("save a preset and see it applied on both sites");
  await page.locator("#new-number").fill("42");
  await page.locator("#new-name").fill("E2E overview");
  await page.getByRole("button", { name: "Save current view" }).click();
  const row = page.locator('tr[data-preset="42"]');
  await row.locator('.chip[data-site="primary"][data-state="applied"]').waitFor();
  await row.locator('.chip[data-site="secondary"][data-state="applied"]').waitFor();
  assert.ok((await presetNames(1, 6)).includes("E2E overview"), "on the primary");
  assert.ok((await presetNames(2, 6)).includes("E2E overview"), "on the secondary");
  await shot(page, "02-camera");

  step("an open menu survives live updates");
  await row.locator("summary").click();
  await row.evaluate((tr) => { tr.dataset.mark = "kept"; });
  // A scan of every camera sends `mismatches` and `progress` events, which make the page
  // reload this camera's presets; the row must be patched, not replaced.
  const reloaded = page.waitForResponse((r) => r.url().includes("/api/v1/mismatches?camera=cam-6"));
  const scanned = await page.evaluate(async () => (await fetch("/api/v1/scans", {
    method: "POST", credentials: "same-origin",
    headers: { "content-type": "application/json" }, body: "{}",
  })).status);
  assert.equal(scanned, 200, "scan through the API");
  await reloaded;
  await page.waitForTimeout(300); // let the reload render
  assert.equal(await row.getAttribute("data-mark"), "kept", "the row was patched, not replaced");
  assert.ok(await row.locator("details").evaluate((d) => d.open), "the menu stayed open");

  step("rename and delete through dialogs");
  await row.getByRole("button", { name: "Rename 42" }).click();
  // Said before it happens: storing the preset turns the camera, and back.
  assert.match(await page.locator('#dialog [data-moves="camera"]').innerText(), /return/);
  const atRest = async (n) => until(`camera ${n} at rest`, async () => {
    const c = await simGet(`/api/cameras/${n}`);
    return !c.moving.pan_tilt && !c.moving.zoom && c;
  });
  const watching = await atRest(6);
  await page.locator("#dialog input").fill("E2E wide");
  await page.locator("#dialog-ok").click();
  await until("the rename on both sites", async () =>
    (await presetNames(1, 6)).includes("E2E wide") && (await presetNames(2, 6)).includes("E2E wide"));
  await until("the camera back where the operator had it", async () => {
    const c = await simGet("/api/cameras/6");
    return !c.moving.pan_tilt && Math.abs(c.pan - watching.pan) < 0.01 && Math.abs(c.tilt - watching.tilt) < 0.01;
  });
  await row.locator("summary").click();
  await row.getByRole("button", { name: "Delete 42" }).click();
  await page.locator("#dialog-ok").click();
  await row.waitFor({ state: "detached" });
  assert.ok(!(await presetNames(2, 6)).includes("E2E wide"), "deleted on the secondary");

  step("resolve a mismatch primary -> secondary");
  await openCamera(page, "cam-1");
  const nameRow = page.locator('#mismatches tr[data-kind="name_differs"]');
  await nameRow.waitFor();
  assert.ok((await presetNames(2, 1)).includes("Parking lot"));
  await shot(page, "03-mismatch");
  await nameRow.locator('[data-repair="primary"]').click();
  await page.locator("#plan li").first().waitFor();
  assert.match(await page.locator("#plan").innerText(), /Parking/);
  await shot(page, "04-plan");
  await page.locator("#dialog-ok").click();
  await page.locator("#mismatches").waitFor({ state: "detached" });
  assert.ok((await presetNames(2, 1)).includes("Parking"), "the secondary took the primary's name");
  assert.ok(!(await presetNames(2, 1)).includes("Parking lot"));

  step("see both positions of a position mismatch");
  await openCamera(page, "cam-2");
  const posRow = page.locator('#mismatches tr[data-kind="position_differs"]');
  await posRow.waitFor();
  const before2 = await atRest(2);
  for (const which of ["primary", "secondary"]) {
    await posRow.locator(`.side[data-side="${which}"] .look-at`).click();
    await posRow.locator(`.side[data-side="${which}"] img.look`).waitFor({ timeout: 15000 });
  }
  await until("the camera back after showing both views", async () => {
    const c = await simGet("/api/cameras/2");
    return !c.moving.pan_tilt && Math.abs(c.pan - before2.pan) < 0.01 && Math.abs(c.tilt - before2.tilt) < 0.01;
  });
  const looks = await posRow.locator("img.look").evaluateAll((imgs) => imgs.map((i) => i.naturalWidth));
  assert.ok(looks.length === 2 && looks.every((w) => w > 0), `two pictures: ${looks}`);
  await shot(page, "03b-positions");

  step("resolve a mismatch secondary -> primary");
  await openCamera(page, "cam-4");
  const onlyS = page.locator('#mismatches tr[data-kind="only_on_secondary"]');
  await onlyS.waitFor();
  const missing = (await onlyS.innerText()).match(/“([^”]+)”/)[1];
  assert.ok(!(await presetNames(1, 4)).includes(missing));
  await page.locator('#mismatches [data-repair="secondary"][data-keys="all"]').click();
  await page.locator("#plan li").first().waitFor();
  await page.locator("#dialog-ok").click();
  await page.locator("#mismatches").waitFor({ state: "detached" });
  assert.ok((await presetNames(1, 4)).includes(missing), `the primary took “${missing}” from the secondary`);

  step("take the primary down: the console switches to S and the joystick keeps working");
  await openCamera(page, "cam-6");
  await until("a snapshot", async () => (await frames()) > 0);
  await page.locator('[data-outage="primary"]').click();
  const panDown = (await simGet("/api/cameras/6")).pan;
  const box2 = await page.locator("#joystick").boundingBox();
  await page.mouse.move(box2.x + box2.width / 2, box2.y + box2.height / 2);
  await page.mouse.down();
  await page.mouse.move(box2.x + box2.width * 0.05, box2.y + box2.height / 2, { steps: 4 });
  await page.waitForTimeout(1500);
  await page.mouse.up();
  await page.locator('.site[data-site="secondary"][data-active="true"]').waitFor({ timeout: 10000 });
  await page.locator('.site[data-site="primary"][data-health="down"]').waitFor({ timeout: 10000 });
  const panS = (await simGet("/api/cameras/6")).pan;
  assert.ok(panS < panDown - 0.02, `the joystick moved the camera through S: ${panDown} -> ${panS}`);
  await until("snapshots from the secondary", async () =>
    (await page.locator("#snapshot").getAttribute("data-site")) === "secondary");
  await page.locator("#failback").waitFor();
  await shot(page, "05-failover");
  await page.locator('[data-outage="primary"]').click();
  await page.locator('.site[data-site="primary"][data-health="up"]').waitFor({ timeout: 15000 });
  await page.locator("#failback:not([disabled])").click();
  await page.locator('.site[data-site="primary"][data-active="true"]').waitFor();

  step("audit page with filters and exports");
  await page.getByRole("link", { name: "Audit" }).click();
  await page.getByLabel("Action (prefix)").fill("preset.");
  await page.getByRole("button", { name: "Show" }).click();
  // The unfiltered rows shown on arrival are replaced when the answer comes.
  let actions = [];
  await until("only preset entries", async () => {
    actions = await page.locator("#audit-rows tr td:nth-child(4)").allInnerTexts();
    return actions.length > 0 && actions.every((a) => a.startsWith("preset."));
  }).catch(() => assert.fail(`filtered: ${actions.slice(0, 10)}`));
  const csv = await page.request.get(url + (await page.locator("#export-csv").getAttribute("href")));
  assert.equal(csv.status(), 200);
  assert.match(await csv.text(), /preset\./);
  await page.getByRole("button", { name: "Verify chain" }).click();
  await page.getByText("Chain intact").waitFor();
  await shot(page, "06-audit");

  step("admin: a role without ptz.control, and a user with it");
  await page.getByRole("link", { name: "Admin" }).click();
  await page.getByRole("button", { name: "New role" }).click();
  await page.locator("#dialog").getByLabel("Name").fill("viewer");
  await page.locator("#dialog").getByLabel("PTZ priority (1 to 32000)").fill("10");
  await page.locator('#dialog input[value="preset.recall"]').check();
  await page.locator("#dialog-ok").click();
  await page.locator('tr[data-role="viewer"]').waitFor();
  await page.locator("#nu-name").fill("vera");
  await page.locator("#nu-password").fill("tulip-kettle-harbour");
  await page.locator('#new-user input[value="viewer"]').check();
  await page.getByRole("button", { name: "Create user" }).click();
  await page.locator('tr[data-user="vera"]').waitFor();
  await shot(page, "07-admin");

  step("a role without ptz.control sees no joystick");
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByLabel("User name").fill("vera");
  await page.getByLabel("Password").fill("tulip-kettle-harbour");
  await page.getByRole("button", { name: "Log in" }).click();
  await openCamera(page, "cam-6");
  await page.locator("#no-ptz").waitFor();
  assert.equal(await page.locator("#joystick").count(), 0, "no joystick");
  assert.equal(await page.locator("#save-preset").count(), 0, "no preset form");
  assert.equal(await page.getByRole("link", { name: "Admin" }).isVisible(), false, "no admin page");
  assert.ok(await page.getByRole("button", { name: /^Recall / }).first().isVisible(), "recall stays");
  // The server refuses it anyway, for the role (the request names the
  // console's origin, as the browser would, so the same-origin rule passes).
  const refused = await page.request.post(`${url}/api/v1/cameras/cam-6/ptz/continuous`, { data: { pan: 0.5, tilt: 0, zoom: 0 }, headers: { origin: url } });
  assert.equal(refused.status(), 403);
  assert.equal((await refused.json()).code, "forbidden");
  // From another origin the cookie changes nothing either.
  const crossOrigin = await page.request.post(`${url}/api/v1/logout`, { headers: { origin: "http://127.0.0.1:9" } });
  assert.equal(crossOrigin.status(), 403);
  assert.equal((await crossOrigin.json()).code, "cross_origin");
  await shot(page, "08-viewer");

  step("tablet width");
  await page.setViewportSize({ width: 820, height: 1180 });
  await openCamera(page, "cam-2");
  await page.locator("#snapshot").waitFor();
  await shot(page, "09-tablet");

  assert.deepEqual(problems, [], "no script errors in the page");
  console.log("console end-to-end: all steps passed");
} catch (e) {
  // What the operator would have seen when it failed.
  for (const p of browser.contexts().flatMap((c) => c.pages())) {
    await p.screenshot({ path: `${shots}/failure.png`, fullPage: true }).catch(() => {});
    console.error(`toasts: ${await p.locator("#toasts").innerText().catch(() => "")}`);
  }
  console.error(`page problems: ${problems.join(" | ")}`);
  throw e;
} finally {
  await browser.close();
}
