// Drives the tandem console in Debian's Chromium, as an operator would, against
// a running `tandem demo` (environment: harness.mjs). Exits non-zero on the
// first failed expectation.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";
import { chromiumPath, password, shots, sim, step, until, url } from "./harness.mjs";

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

// axe-core in the page: no serious or critical accessibility violation.
const axeSource = readFileSync(new URL("./node_modules/axe-core/axe.min.js", import.meta.url), "utf8");
const accessible = async (page, where) => {
  // Evaluated through the browser's debugging protocol, which the page's CSP (rightly) does not allow as a script tag.
  if (!(await page.evaluate(() => !!window.axe))) await page.evaluate(axeSource);
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`), [],
    `accessibility of ${where}`);
};

// The main controls are on screen without scrolling.
const inView = async (page, selectors, where) => {
  await page.evaluate(() => window.scrollTo(0, 0));
  const vp = page.viewportSize();
  for (const sel of selectors) {
    const b = await page.locator(sel).first().boundingBox();
    assert.ok(b && b.y >= 0 && b.y + b.height <= vp.height + 1 && b.x >= 0 && b.x + b.width <= vp.width + 1,
      `${sel} is not inside ${vp.width}×${vp.height} (${where}): ${JSON.stringify(b)}`);
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
  executablePath: chromiumPath,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const problems = [];
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  // Pictures are pushed: the console never polls single snapshots.
  const requests = { snapshot: 0, streams: [] };
  page.on("request", (r) => {
    if (/\/snapshot(\?|$)/.test(r.url())) requests.snapshot++;
    if (/\/api\/v1\/streams\?/.test(r.url())) requests.streams.push(new URL(r.url()).searchParams.get("cameras"));
  });
  page.on("console", (m) => {
    // A refused request (the site taken down on purpose) is logged by the browser; a script error is not allowed.
    if (m.type() === "error" && !/Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
  });

  step("log in");
  await page.goto(url);
  await page.getByLabel("User name").fill("admin");
  await accessible(page, "the login page");
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

  step("the main workflow fits 1280×800, a mismatch banner included; no serious accessibility fault");
  await openCamera(page, "cam-1");
  await page.locator("#mismatches").waitFor();
  await inView(page, ["#snapshot", "#joystick", "#stop", "#save-preset button[type=submit]", "#preset-rows button[aria-label^='Recall']", "#mismatches [data-repair]"], "cam-1 with its mismatch");
  await accessible(page, "the camera page");

  step("a grid of pushed pictures: 2×2, select, maximise, kept per user");
  await page.locator('[data-layout="4"]').click();
  await until("four tiles with pictures", async () => {
    const frames = await page.locator("#tiles .tile img").evaluateAll((imgs) => imgs.map((i) => Number(i.dataset.frames || 0)));
    return frames.length === 4 && frames.every((f) => f > 0);
  });
  await shot(page, "01b-grid");
  const other = page.locator('#tiles .tile[data-selected="false"]').first();
  const otherId = await other.getAttribute("data-camera");
  await other.click();
  await page.locator(`#camlist a[data-camera="${otherId}"][aria-current="true"]`).waitFor();
  assert.equal(await page.locator("#tiles .tile").count(), 4, "selecting keeps the grid");
  await page.locator(`#tiles .tile[data-camera="${otherId}"]`).dblclick();
  await until("one tile after a double-click", async () => (await page.locator("#tiles .tile").count()) === 1);
  await page.locator(`#tiles .tile[data-camera="${otherId}"]`).dblclick();
  await until("the grid back", async () => (await page.locator("#tiles .tile").count()) === 4);
  await page.reload();
  await page.locator("#tiles .tile").first().waitFor();
  assert.equal(await page.locator("#tiles .tile").count(), 4, "the layout is kept across a reload");
  await page.locator('[data-layout="1"]').click();
  await until("one tile", async () => (await page.locator("#tiles .tile").count()) === 1);
  assert.equal(requests.snapshot, 0, "no snapshot polling");
  // One connection carries the whole grid (browsers open only six to a server).
  assert.ok(requests.streams.some((c) => c.split(",").length === 4), `one stream for the 2×2 grid: ${requests.streams}`);

  step("move a camera and see the snapshot change");
  await openCamera(page, "cam-6");
  const frames = async () => Number((await page.locator("#snapshot").getAttribute("data-frames")) || 0);
  await until("a first snapshot", async () => (await frames()) > 0);
  const before = await page.locator('.tile[data-selected="true"]').screenshot();
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
  const after = await page.locator('.tile[data-selected="true"]').screenshot();
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

  step("on the picture: click to centre, drag a box to zoom, wheel out; a gamepad steers and recalls");
  const still = async () => until("camera 6 at rest", async () => {
    const c = await simGet("/api/cameras/6");
    return !c.moving.pan_tilt && !c.moving.zoom && c;
  });
  const c0 = await still();
  const pic = await page.locator("#snapshot").boundingBox();
  await page.mouse.click(pic.x + pic.width * 0.75, pic.y + pic.height / 2);
  await until("turned right towards the clicked point", async () => {
    const c = await simGet("/api/cameras/6");
    return !c.moving.pan_tilt && c.pan > c0.pan + 0.02;
  });
  const z0 = (await still()).zoom;
  await page.mouse.move(pic.x + pic.width * 0.4, pic.y + pic.height * 0.4);
  await page.mouse.down();
  await page.mouse.move(pic.x + pic.width * 0.6, pic.y + pic.height * 0.6, { steps: 5 });
  await page.mouse.up();
  await until("zoomed into the box", async () => (await simGet("/api/cameras/6")).zoom > z0 + 0.1);
  const z1 = (await still()).zoom;
  await page.mouse.move(pic.x + pic.width / 2, pic.y + pic.height / 2);
  await page.mouse.wheel(0, 300);
  await until("zoomed out by the wheel", async () => (await simGet("/api/cameras/6")).zoom < z1 - 0.02);
  const g0 = await still();
  await page.evaluate(() => {
    const pad = { id: "synthetic pad", index: 0, connected: true, mapping: "standard", timestamp: 0,
      axes: [0, 0, 0, 0], buttons: Array.from({ length: 16 }, () => ({ pressed: false, touched: false, value: 0 })) };
    window.syntheticPad = pad;
    navigator.getGamepads = () => [pad];
    window.dispatchEvent(new Event("gamepadconnected"));
  });
  await page.evaluate(() => { window.syntheticPad.axes[0] = 0.9; });
  await page.waitForTimeout(800);
  await page.evaluate(() => { window.syntheticPad.axes[0] = 0; });
  await until("the gamepad panned right and stopped", async () => {
    const c = await simGet("/api/cameras/6");
    return !c.moving.pan_tilt && c.pan > g0.pan + 0.02;
  });
  await page.evaluate(() => { window.syntheticPad.buttons[0] = { pressed: true, touched: true, value: 1 }; });
  await until("button 1 recalled preset 1", async () => {
    const c = await simGet("/api/cameras/6");
    const p1 = (await simGet("/api/sites/1/cameras/6/presets")).presets.find((p) => p.token === "1");
    return p1 && Math.abs(c.pan - p1.position[0]) < 0.01 && Math.abs(c.tilt - p1.position[1]) < 0.01;
  });
  await page.evaluate(() => { window.syntheticPad.buttons[0] = { pressed: false, touched: false, value: 0 }; window.syntheticPad.connected = false; });

  step("save a preset and see it applied on both sites");
  await page.locator("#new-number").fill("42");
  await page.locator("#new-name").fill("E2E overview");
  await page.getByRole("button", { name: "Save current view" }).click();
  const row = page.locator('tr[data-preset="42"]');
  await row.locator('.chip[data-site="primary"][data-state="applied"]').waitFor();
  await row.locator('.chip[data-site="secondary"][data-state="applied"]').waitFor();
  assert.ok((await presetNames(1, 6)).includes("E2E overview"), "on the primary");
  assert.ok((await presetNames(2, 6)).includes("E2E overview"), "on the secondary");
  // The picture taken where it points, beside it.
  await until("a picture of preset 42", async () =>
    (await row.locator("img.thumb").evaluate((i) => (i.hidden ? 0 : i.naturalWidth))) > 0);
  await shot(page, "02-camera");

  step("a preset the secondary lost: its picture beside the difference, copied back by effect");
  // Someone deletes 42 in the XProtect Management Client (here: through its REST API).
  const vms = await simGet("/api/sites/2/xprotect");
  const login = await fetch(`${vms.url}/API/IDP/connect/token`, {
    method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "password", username: "admin", password: "tandem", client_id: "GrantValidatorClient" }),
  });
  assert.equal(login.status, 200, "XProtect login");
  const token = (await login.json()).access_token;
  const vmsCamera = vms.cameras[5];
  const lost = vmsCamera.presets.find((p) => p.name === "E2E overview");
  assert.ok(lost, "42 is in the VMS");
  const gone = await fetch(`${vms.url}/api/rest/v1/cameras/${vmsCamera.id}/ptzPresets/${lost.id}`,
    { method: "DELETE", headers: { authorization: `Bearer ${token}` } });
  assert.ok(gone.ok, `deleted in the VMS: ${gone.status}`);
  const scannedAgain = await page.evaluate(async () => (await fetch("/api/v1/scans", {
    method: "POST", credentials: "same-origin", headers: { "content-type": "application/json" }, body: "{}",
  })).status);
  assert.equal(scannedAgain, 200);
  const lostRow = page.locator('#mismatches tr[data-kind="only_on_primary"]', { hasText: "E2E overview" });
  await lostRow.waitFor();
  await until("the primary's picture beside the difference", async () =>
    (await lostRow.locator('.side[data-side="primary"] img.thumb').evaluate((i) => (i.hidden ? 0 : i.naturalWidth))) > 0);
  assert.match(await lostRow.locator('.side[data-side="secondary"]').innerText(), /absent/);
  await row.locator('.chip[data-site="secondary"][data-state="missing"]').waitFor();
  const copy = lostRow.locator('[data-repair="primary"]');
  assert.equal(await copy.innerText(), "Copy “E2E overview” to the secondary");
  await shot(page, "02b-lost-preset");
  await copy.click();
  await page.locator("#plan li").first().waitFor();
  assert.match(await page.locator("#plan").innerText(), /Add 42 “E2E overview” on the secondary/);
  await page.locator("#dialog-ok").click();
  await until("42 back in the VMS", async () => (await presetNames(2, 6)).includes("E2E overview"));
  await row.locator('.chip[data-site="secondary"][data-state="applied"], .chip[data-site="secondary"][data-state="synced"]').first().waitFor();

  step("control: who steers, release, take control, reserve");
  const pictureAt = (await page.locator("#snapshot").boundingBox()).y;
  await page.locator("#control-holder", { hasText: "You are steering" }).waitFor();
  assert.match(await page.locator("#control-holder").innerText(), /You are steering · \d+ s left/);
  await page.locator("#control").getByRole("button", { name: "Release" }).click();
  await page.locator("#control-holder", { hasText: "Nobody is steering" }).waitFor();
  await page.locator("#control").getByRole("button", { name: "Take control" }).click();
  await page.locator("#control-holder", { hasText: "You are steering" }).waitFor();
  await page.locator("#control").getByRole("button", { name: "Reserve" }).click();
  await page.locator("#control-holder", { hasText: "You reserved this camera" }).waitFor();
  await page.locator("#control").getByRole("button", { name: "End reservation" }).click();
  await page.locator("#control-holder", { hasText: "Nobody is steering" }).waitFor();
  assert.equal((await page.locator("#snapshot").boundingBox()).y, pictureAt, "the picture did not move");

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

  await page.keyboard.press("Escape");
  assert.ok(!(await row.locator("details").evaluate((d) => d.open)), "Esc closed the menu");
  await row.locator("summary").click();

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
  // Labelled by what it does, not by its direction.
  assert.equal(await nameRow.locator('[data-repair="primary"]').innerText(), "Rename to “Parking” on the secondary");
  assert.match(await page.locator('tr[data-preset="2"]').innerText(), /S calls it “Parking lot”/);
  await nameRow.locator('[data-repair="primary"]').click();
  await page.locator("#plan li").first().waitFor();
  assert.match(await page.locator("#plan").innerText(), /name: “Parking lot” → “Parking”/);
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

  step("every difference in the preset table");
  await openCamera(page, "cam-3");
  await page.locator('tr[data-preset="4"] .chip[data-site="secondary"][data-state="missing"]').waitFor();

  step("a repair that deletes says so, looks dangerous and focuses Cancel");
  await openCamera(page, "cam-4");
  const onlyS = page.locator('#mismatches tr[data-kind="only_on_secondary"]');
  await onlyS.waitFor();
  const missing = (await onlyS.innerText()).match(/“([^”]+)”/)[1];
  assert.ok(!(await presetNames(1, 4)).includes(missing));
  await page.locator('tr[data-preset^="secondary:"] .chip[data-site="primary"][data-state="missing"]').waitFor();
  const deleting = onlyS.locator('[data-repair="primary"]');
  assert.equal(await deleting.innerText(), `Delete “${missing}” from the secondary`);
  assert.equal(await deleting.getAttribute("data-danger"), "true");
  await deleting.click();
  await page.locator("#plan li").first().waitFor();
  assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), "dialog-cancel", "Cancel has the focus");
  assert.match(await page.locator("#dialog-ok").innerText(), /^Delete 1 preset$/);
  assert.ok((await page.locator("#plan").innerText()).includes(`Delete “${missing}” on the secondary`), "the plan names what it deletes");
  assert.ok(!/\bnull\b|undefined/.test(await page.locator("#dialog").innerText()), "no missing part shows as null");
  await shot(page, "04b-delete-plan");
  await page.locator("#dialog-cancel").click();
  assert.ok((await presetNames(2, 4)).includes(missing), "cancelled: nothing deleted");

  step("resolve a mismatch secondary -> primary");
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
  // Said for as long as it lasts, and the same everywhere on the screen.
  await page.locator('#site-alert[data-state="failover"]').waitFor();
  assert.match(await page.locator("#site-alert").innerText(), /Running on Secondary since .*Primary not answering/s);
  await until("the camera list via the secondary", async () =>
    (await page.locator('#camlist a[data-camera="cam-6"]').innerText()).includes("via Secondary"));
  await inView(page, ["#snapshot", "#joystick", "#stop", "#save-preset button[type=submit]"], "running on the secondary");
  const panS = (await simGet("/api/cameras/6")).pan;
  assert.ok(panS < panDown - 0.02, `the joystick moved the camera through S: ${panDown} -> ${panS}`);
  await until("snapshots from the secondary", async () =>
    (await page.locator("#snapshot").getAttribute("data-site")) === "secondary");
  await page.locator("#failback").waitFor();
  await shot(page, "05-failover");
  await page.locator('[data-outage="primary"]').click();
  await page.locator('.site[data-site="primary"][data-health="up"]').waitFor({ timeout: 15000 });
  await until("the failback countdown", async () =>
    /automatically in \d+ s/.test(await page.locator("#failback-countdown").innerText()));
  await page.locator("#failback:not([disabled])").click();
  await page.locator('.site[data-site="primary"][data-active="true"]').waitFor();
  await page.locator("#site-alert").waitFor({ state: "hidden" });

  step("both sites down: a plain sentence, the controls off, the picture's age");
  await page.locator('[data-outage="primary"]').click();
  await page.locator('[data-outage="secondary"]').click();
  await page.locator('#site-alert[data-state="down"]').waitFor({ timeout: 15000 });
  assert.match(await page.locator("#site-alert").innerText(), /No site answers/);
  await page.locator('#joystick[aria-disabled="true"]').waitFor();
  assert.ok(await page.locator("#stop").isDisabled(), "Stop is off");
  assert.ok(await page.locator("#save-preset button[type=submit]").isDisabled(), "Save is off");
  assert.match(await page.locator('#camlist a[data-camera="cam-6"]').innerText(), /no site answers/);
  await until("the picture's age", async () =>
    /last picture \d+ s ago/.test(await page.locator("#snapshot-stale").innerText()));
  await shot(page, "05b-both-down");
  await page.locator('[data-outage="primary"]').click();
  await page.locator('[data-outage="secondary"]').click();
  await page.locator("#site-alert").waitFor({ state: "hidden", timeout: 15000 });
  assert.ok(!(await page.locator("#stop").isDisabled()), "Stop is back");

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
  // Newest first, and paged. Each page is read once its answer has arrived, in one go.
  const seqs = () => page.locator("#audit-rows tr").evaluateAll((trs) =>
    trs.map((tr) => Number(tr.cells[0].innerText.split("–").pop())));
  await page.getByLabel("Action (prefix)").fill("");
  const unfiltered = page.waitForResponse((r) => r.url().includes("/api/v1/audit?") && !r.url().includes("action="));
  await page.getByRole("button", { name: "Show" }).click();
  await unfiltered;
  // Drawn once an entry other than a preset's shows (the filtered page had only those).
  await until("the unfiltered page drawn", async () =>
    (await page.locator("#audit-rows tr td:nth-child(4)").allInnerTexts()).some((a) => !a.startsWith("preset.")));
  const firstPage = await seqs();
  assert.ok(firstPage.length > 1, `a page of entries: ${firstPage}`);
  for (let i = 1; i < firstPage.length; i++) assert.ok(firstPage[i] < firstPage[i - 1], `newest first: ${firstPage}`);
  if (await page.locator("#audit-older").isEnabled()) {
    const older = page.waitForResponse((r) => r.url().includes("/api/v1/audit?") && r.url().includes("before="));
    await page.locator("#audit-older").click();
    await older;
    let next = [];
    await until("an older page", async () => {
      next = await seqs();
      return next.length > 0 && next[0] < firstPage[firstPage.length - 1];
    }).catch(() => assert.fail(`an older page: ${next} after ${firstPage}`));
    assert.ok(await page.locator("#audit-newer").isEnabled(), "Newer is back");
  }
  await accessible(page, "the audit page");

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
  await accessible(page, "the admin page");

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
  await accessible(page, "a viewer's camera page");
  assert.equal(await page.getByRole("link", { name: "Audit" }).isVisible(), false, "no audit link without the right");

  step("tablet width: the picture and the controls on screen");
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.setViewportSize({ width: 768, height: 1024 });
  await openCamera(page, "cam-2");
  await page.locator("#snapshot").waitFor();
  await inView(page, ["#snapshot", "#joystick", "#stop"], "768×1024");
  await shot(page, "09-tablet");

  step("a 1920×1080 screen: a 3×3 grid, the controls and the presets in view");
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.locator('[data-layout="9"]').click();
  // The demo has eight cameras: eight of the nine places show one each, over one stream.
  await until("eight tiles with pictures", async () => {
    const frames = await page.locator("#tiles .tile img").evaluateAll((imgs) => imgs.map((i) => Number(i.dataset.frames || 0)));
    return frames.length === 8 && frames.every((f) => f > 0);
  }, 20000);
  await inView(page, ["#tiles", "#joystick", "#stop", "#save-preset button[type=submit]"], "1920×1080");
  await shot(page, "10-wide");
  await page.locator('[data-layout="1"]').click();

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
