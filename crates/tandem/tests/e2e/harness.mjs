// What the console's end-to-end scripts share: the environment
// crates/tandem/tests/console.rs starts them with, and waiting for a condition.
//   TANDEM_URL       the console's address
//   TANDEM_PASSWORD  the admin's password
//   TANDEM_SIM       the simulator's control API (to check what the sites hold)
//   TANDEM_SHOTS     where to write screenshots
//   TANDEM_CHROMIUM  Debian's Chromium (default /usr/bin/chromium)
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";

export const url = process.env.TANDEM_URL;
export const password = process.env.TANDEM_PASSWORD;
export const sim = process.env.TANDEM_SIM;
export const shots = process.env.TANDEM_SHOTS;
export const chromiumPath = process.env.TANDEM_CHROMIUM || "/usr/bin/chromium";
assert.ok(url && password && sim && shots, "TANDEM_URL, TANDEM_PASSWORD, TANDEM_SIM and TANDEM_SHOTS are needed");
mkdirSync(shots, { recursive: true });

/** Says which step runs, so that a failure names it. */
export const step = (name) => console.log(`step: ${name}`);

/** Polls `check` until it answers something true (answered), or fails naming `what`. */
export const until = async (what, check, ms = 15000) => {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
};
