// tandem console: a single page over the service's own API (/api/v1), with
// no framework and no external asset. Everything the page shows comes from the
// API; everything it changes goes through it, so the server's permission
// checks are the real ones and the page only hides what a role cannot do.
"use strict";

const PERMISSIONS = ["ptz.control", "preset.recall", "preset.manage", "preset.manage_locked", "mismatch.resolve", "admin"];
const PERMISSION_LABEL = {
  "ptz.control": "Steer cameras (live PTZ)",
  "preset.recall": "Recall presets",
  "preset.manage": "Add, change and delete presets",
  "preset.manage_locked": "Change locked presets",
  "mismatch.resolve": "Resolve mismatches between sites",
  admin: "Administer (users, roles, sites, audit)",
};
const KIND_LABEL = {
  only_on_primary: "Only on the primary",
  only_on_secondary: "Only on the secondary",
  name_differs: "Names differ",
  number_differs: "Numbers differ",
  position_differs: "Positions differ",
};

const app = {
  me: null,
  sites: [],
  cameras: [],
  demo: null, // the simulated sites' outage switches, when the service runs in `tandem demo`
  camera: null, // the camera shown: { id, presets, ops, mismatches, control }
  events: null,
  timers: new Set(),
};

// ---------------------------------------------------------------- helpers

/** Builds an element; strings become text nodes, so nothing is parsed as HTML. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const $ = (sel, root = document) => root.querySelector(sel);
/** Appends the children that are there: a missing part (null) is left out, never written as "null". */
const put = (el, ...children) => el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
const can = (p) => !!app.me && (app.me.permissions.includes(p) || app.me.permissions.includes("admin"));
const fmt = (n) => (typeof n === "number" ? n.toFixed(3) : "—");
/**
 * A position as the operator reads it: in degrees with the field of view
 * when the shown camera's optics are known (as the picture's overlay speaks),
 * else in the generic units.
 */
function pos(p) {
  if (!p) return "position unknown";
  const cam = app.camera && app.cameras.find((c) => c.id === app.camera.id);
  const o = cam && cam.optics;
  if (!o || typeof p.pan !== "number") return `pan ${fmt(p.pan)} · tilt ${fmt(p.tilt)} · zoom ${fmt(p.zoom)}`;
  const deg = (v) => `${v.toFixed(1)}°`;
  const fov = o.wide_hfov_deg * Math.pow(o.tele_hfov_deg / o.wide_hfov_deg, Math.min(1, Math.max(0, p.zoom)));
  return `pan ${deg(p.pan * o.pan_range_deg / 2)} · tilt ${deg(p.tilt * o.tilt_range_deg / 2)} · view ${deg(fov)} wide`;
}
const siteName = (id) => (id === "primary" ? "Primary" : id === "secondary" ? "Secondary" : id);

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

/** Calls the API; answers the parsed JSON, throws ApiError with the server's words. */
async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (res.status === 401 && path !== "/api/v1/login") {
    if (app.me) showLogin("Your session ended; log in again.");
    throw new ApiError(401, "not logged in");
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!res.ok) {
    const detail = (data && (data.detail || data.title)) || `HTTP ${res.status}`;
    throw new ApiError(res.status, detail);
  }
  return { status: res.status, data };
}

/**
 * Splits a message into a plain sentence and the technical detail behind it.
 * The service's device errors read "site S, camera C: what happened (the
 * device's words)": the sentence keeps what happened, the detail all of it.
 */
function humanize(message) {
  const text = String(message || "");
  const device = text.match(/^site (\S+), camera ([^:]+): (.*)$/s);
  if (device) {
    const [, site, camera, rest] = device;
    const cut = rest.search(/ \(|: /);
    const what = cut > 0 ? rest.slice(0, cut) : rest;
    return { text: `${siteName(site)} site, camera ${camera}: ${what}`, detail: what === rest ? null : text };
  }
  const cut = text.search(/ \(|; /);
  if (text.length > 100 && cut > 20) return { text: `${text.slice(0, cut)}.`, detail: text };
  return { text, detail: null };
}

/**
 * Shows a message for a while: the newest three stay in view, errors longer
 * than news. The same message again replaces the one shown, so a refusal
 * repeated by every joystick command is one message, not a stack.
 */
function toast(message, kind = "info") {
  const box = $("#toasts");
  const { text, detail } = humanize(message);
  for (const same of [...box.children].filter((t) => t.dataset.text === text)) {
    clearTimeout(same.timer);
    same.remove();
  }
  const el = h("div", { class: `toast ${kind}`, "data-text": text }, h("span", {}, text),
    detail ? h("details", {}, h("summary", {}, "Details"), h("div", { class: "mono small detail" }, detail)) : null);
  box.append(el);
  while (box.children.length > 3) box.firstElementChild.remove();
  el.timer = setTimeout(() => el.remove(), kind === "bad" ? 9000 : 4000);
}

function fail(e) {
  if (e instanceof ApiError && e.status === 401) return;
  toast(e.message || String(e), "bad");
}

/** A modal dialog: resolves true on OK. `build` fills the body and may return a validator. */
function ask(title, build, okLabel = "OK", danger = false) {
  const dialog = $("#dialog");
  $("#dialog-title").textContent = title;
  const body = $("#dialog-body");
  body.replaceChildren();
  const read = build(body) || (() => true);
  const ok = $("#dialog-ok");
  ok.textContent = okLabel;
  ok.className = danger ? "danger" : "";
  return new Promise((resolve) => {
    const done = () => {
      dialog.removeEventListener("close", done);
      if (dialog.returnValue !== "ok") return resolve(null);
      resolve(read());
    };
    dialog.addEventListener("close", done);
    dialog.returnValue = "";
    dialog.showModal();
    // A destructive choice is never the default: Cancel has the focus.
    const first = body.querySelector("input, select, button");
    (danger ? $("#dialog-cancel") : first || ok).focus();
  });
}

function later(fn, ms) {
  const t = setTimeout(() => { app.timers.delete(t); fn(); }, ms);
  app.timers.add(t);
  return t;
}

function debounce(fn, ms) {
  let t = null;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
}

// ---------------------------------------------------------------- login

function showLogin(message) {
  // Several requests can learn at once that the session ended: draw the form
  // once, so that what the user already typed stays.
  const shown = $("#login-error");
  if (shown) {
    if (message) shown.textContent = message;
    return;
  }
  stopCameraLoops();
  closeTiles();
  app.layout = null;
  if (app.events) { app.events.close(); app.events = null; }
  app.me = null;
  $(".top").hidden = true;
  $("#toasts").replaceChildren();
  const error = h("p", { class: "error", role: "alert", id: "login-error" }, message || "");
  const form = h("form", { class: "login", "aria-labelledby": "login-title" },
    h("div", { class: "brand", id: "login-title" }, "tandem"),
    h("p", { class: "muted" }, "PTZ presets and live control, identical on both sites."),
    h("div", { class: "field" }, h("label", { for: "username" }, "User name"),
      h("input", { id: "username", name: "username", autocomplete: "username", required: true })),
    h("div", { class: "field" }, h("label", { for: "password" }, "Password"),
      h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true })),
    error,
    h("button", { type: "submit", id: "login-submit" }, "Log in"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    try {
      await api("POST", "/api/v1/login", { username: form.username.value, password: form.password.value });
      await start();
    } catch (e) {
      error.textContent = e.status === 401 ? "Wrong user name or password." : e.message;
    }
  });
  $("#main").replaceChildren(form);
  $("#username").focus();
}

// ---------------------------------------------------------------- start, events, site bar

async function start() {
  try {
    app.me = (await api("GET", "/api/v1/me")).data;
  } catch (e) {
    showLogin(e.status === 401 ? "" : e.message);
    return;
  }
  $(".top").hidden = false;
  $("#who-name").textContent = `${app.me.user} (${app.me.roles.join(", ") || "no role"})`;
  for (const a of document.querySelectorAll("[data-needs]")) a.hidden = !can(a.dataset.needs);
  try { app.demo = (await api("GET", "/api/v1/demo/sites")).data; } catch { app.demo = null; }
  await Promise.all([loadSites(), loadCameras()]);
  connectEvents();
  route();
}

function connectEvents() {
  if (app.events) app.events.close();
  const es = new EventSource("/api/v1/events");
  app.events = es;
  const refreshCameras = debounce(() => loadCameras().catch(fail), 400);
  const refreshCamera = debounce(() => app.camera && reloadCamera().catch(fail), 150);
  es.addEventListener("site", () => loadSites().catch(fail));
  // The site alert says where live control runs for as long as it matters.
  es.addEventListener("active", () => loadSites().catch(fail));
  const touches = (ev) => {
    try { return app.camera && JSON.parse(ev.data).camera === app.camera.id; } catch { return false; }
  };
  for (const name of ["operation", "progress", "mismatches"]) {
    es.addEventListener(name, (ev) => {
      refreshCameras();
      if (touches(ev) || name === "mismatches") refreshCamera();
    });
  }
  es.addEventListener("control", (ev) => { if (touches(ev)) loadControl().catch(fail); });
  es.onerror = () => {
    // EventSource reconnects by itself; a 401 shows as an error with no way to tell,
    // so ask the API once whether the session still holds.
    api("GET", "/api/v1/me").catch(() => {});
  };
}

async function loadSites() {
  app.sites = (await api("GET", "/api/v1/sites")).data;
  if (app.demo && can("admin")) {
    try { app.demo = (await api("GET", "/api/v1/demo/sites")).data; } catch { /* keep the last */ }
  }
  renderSites();
}

/** Whether live control can reach some site. */
const anySiteUp = () => app.sites.some((s) => s.health !== "down");

/**
 * The lasting statement of where live control runs, when it is not where it
 * should be: on the secondary (since when, why, and when it comes back), or
 * nowhere (no site answers: the controls that need a site are disabled).
 */
function renderSiteAlert() {
  const el = $("#site-alert");
  clearInterval(app.alertTimer);
  const primary = app.sites.find((s) => s.priority === 1);
  const active = app.sites.find((s) => s.active);
  document.body.dataset.sites = !app.sites.length ? "" : anySiteUp() ? (primary && active && primary.id !== active.id ? "failover" : "normal") : "down";
  applyAvailability();
  if (document.body.dataset.sites === "down") {
    el.hidden = false;
    el.dataset.state = "down";
    el.replaceChildren(h("strong", {}, "No site answers."),
      " Live control, recalls and new presets cannot reach any camera until a site answers again; tandem keeps trying and resumes by itself.");
    return;
  }
  if (document.body.dataset.sites !== "failover") { el.hidden = true; el.replaceChildren(); return; }
  el.hidden = false;
  el.dataset.state = "failover";
  const since = active.active_since_utc ? ` since ${new Date(active.active_since_utc).toLocaleTimeString()}` : "";
  const countdown = h("span", { id: "failback-countdown" });
  let left = primary.failback_in_s;
  const tick = () => {
    countdown.textContent = left !== undefined && left !== null
      ? `Back to ${siteName(primary.id)} automatically in ${left} s.`
      : primary.health === "up"
        ? "Automatic failback is off: fail back when ready."
        : `Live control returns to ${siteName(primary.id)} once it answers steadily again.`;
  };
  tick();
  if (left !== undefined && left !== null) {
    app.alertTimer = setInterval(() => {
      left = Math.max(0, left - 1);
      tick();
      if (left === 0) { clearInterval(app.alertTimer); later(() => loadSites().catch(fail), 1500); }
    }, 1000);
  }
  const reason = primary.health === "up" ? `${siteName(primary.id)} answers again` : `${siteName(primary.id)} not answering`;
  el.replaceChildren();
  put(el, h("strong", {}, `Running on ${siteName(active.id)}${since}`), ` — ${reason}. `, countdown,
    can("admin") ? h("button", {
      type: "button", id: "failback", class: "small", disabled: primary.health !== "up",
      title: primary.health === "up" ? "Return live control to the primary now" : "The primary is not up yet",
      onclick: failback,
    }, "Fail back now") : null);
}

/** Disables what needs a site to answer while none does; the server would refuse it anyway. */
function applyAvailability() {
  const down = document.body.dataset.sites === "down";
  for (const el of document.querySelectorAll("[data-live]")) {
    if (el.matches("button, input")) el.disabled = down;
    else el.setAttribute("aria-disabled", String(down));
  }
}

function renderSites() {
  const bar = $("#sitebar");
  const items = app.sites.map((s) => {
    const outage = app.demo && app.demo.find((d) => d.site === s.id);
    return h("div", { class: `site${s.active ? " active" : ""}`, "data-site": s.id, "data-health": s.health, "data-active": String(s.active) },
      h("span", { class: `dot ${s.health}`, "aria-hidden": "true" }),
      h("span", {}, `${siteName(s.id)}: ${s.health}`),
      s.kind === "xprotect" ? h("span", { class: "badge kind", title: "A Milestone XProtect site: presets kept in the VMS, reached through its REST API" }, "XProtect") : null,
      s.active ? h("span", { class: "badge" }, "ACTIVE") : null,
      outage && can("admin")
        ? h("button", {
            type: "button", class: "ghost small", "data-outage": s.id,
            title: "Simulated site: make every device of this site refuse connections, or bring them back",
            onclick: () => setOutage(s.id, !outage.down),
          }, outage.down ? "Bring up" : "Take down")
        : null);
  });
  bar.replaceChildren(...items);
  renderSiteAlert();
  renderCameraList();
}

async function setOutage(site, down) {
  try {
    app.demo = (await api("PUT", `/api/v1/demo/sites/${encodeURIComponent(site)}`, { down })).data;
    toast(`${siteName(site)} site ${down ? "taken down (simulated)" : "brought back"}`, down ? "warn" : "ok");
    renderSites();
    later(() => loadSites().catch(fail), 1200);
  } catch (e) { fail(e); }
}

async function failback() {
  try {
    app.sites = (await api("POST", "/api/v1/sites/failback")).data;
    renderSites();
    toast("Live control is back on the primary", "ok");
  } catch (e) { fail(e); }
}

// ---------------------------------------------------------------- router

function route() {
  if (!app.me) return;
  stopCameraLoops();
  $("#toasts").replaceChildren();
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const view = parts[0] || "cameras";
  document.body.dataset.view = view === "audit" || view === "admin" ? view : "cameras";
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === view) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (view !== "cameras") closeTiles();
  if (view === "audit") return renderAudit();
  if (view === "admin" && can("admin")) return renderAdmin();
  const id = parts[1] || (app.cameras[0] && app.cameras[0].id);
  return renderCameras(id);
}

// ---------------------------------------------------------------- cameras

async function loadCameras() {
  app.cameras = (await api("GET", "/api/v1/cameras")).data;
  renderCameraList();
}

function syncState(c) {
  if (c.mismatches > 0) return { text: `${c.mismatches} mismatch${c.mismatches > 1 ? "es" : ""}`, cls: "warn" };
  if (c.pending > 0) return { text: `${c.pending} pending`, cls: "warn" };
  return { text: "in sync", cls: "ok" };
}

function renderCameraList() {
  const list = $("#camlist ul");
  if (!list) return;
  const filter = ($("#camfilter") || {}).value || "";
  const active = anySiteUp() && app.sites.find((s) => s.active);
  const items = app.cameras
    .filter((c) => !filter || `${c.name} ${c.id}`.toLowerCase().includes(filter.toLowerCase()))
    .map((c) => {
      const st = syncState(c);
      const current = app.camera && app.camera.id === c.id;
      return h("li", {}, h("a", { href: `#/cameras/${encodeURIComponent(c.id)}`, "aria-current": current ? "true" : false, "data-camera": c.id },
        c.name, h("span", { class: `state ${st.cls}`, "data-sync": st.cls }, st.text,
          active ? ` · via ${siteName(active.id)}` : app.sites.length ? " · no site answers" : "")));
    });
  list.replaceChildren(...items);
}

/**
 * The cameras page: the list, the viewer (a grid of live pictures and the
 * selected camera's controls) and the side (its differences and presets).
 * The frame and the pictures are kept when another camera is selected: only
 * what belongs to the selected camera is drawn again.
 */
function renderCameras(id) {
  const main = $("#main");
  if (!$("#viewer")) {
    closeTiles();
    const aside = h("nav", { class: "camlist", id: "camlist", "aria-label": "Cameras" },
      h("h2", {}, "Cameras"),
      h("div", { class: "filter" }, h("label", { for: "camfilter", class: "muted" }, "Filter"),
        h("input", { id: "camfilter", type: "search", placeholder: "name or id", oninput: renderCameraList })),
      h("ul", {}));
    main.replaceChildren(h("div", { class: "cams" }, aside,
      h("section", { class: "viewer", id: "viewer", "aria-label": "Live pictures and control" }),
      h("section", { class: "pane", id: "camera", "aria-label": "Differences and presets" })));
  }
  if (!id) {
    $("#viewer").replaceChildren(h("p", { class: "muted" }, "No cameras are configured."));
    renderCameraList();
    return;
  }
  app.camera = { id, presets: [], ops: [], mismatches: [], control: null, status: null, looks: new Map(), recalled: null };
  // What was said about the previous camera is not about this one.
  $("#toasts").replaceChildren();
  renderCameraList();
  const cam = app.cameras.find((c) => c.id === id);
  placeInLayout(id);
  renderViewer(cam);
  $("#camera").replaceChildren(h("div", { id: "banner-slot" }), presetsPanel());
  applyAvailability();
  reloadCamera().catch(fail);
  startStatus();
  startControl();
  gamepad.start();
}

async function reloadCamera() {
  const c = app.camera;
  if (!c) return;
  const id = encodeURIComponent(c.id);
  const [presets, ops, mismatches] = await Promise.all([
    api("GET", `/api/v1/cameras/${id}/presets`),
    api("GET", `/api/v1/operations?camera=${id}&limit=500`),
    api("GET", `/api/v1/mismatches?camera=${id}`),
  ]);
  if (app.camera !== c) return;
  c.presets = presets.data;
  c.ops = ops.data;
  c.mismatches = mismatches.data;
  renderPresets();
  renderBanner();
  loadControl().catch(() => {});
}

async function loadControl() {
  const c = app.camera;
  if (!c) return;
  const control = (await api("GET", `/api/v1/cameras/${encodeURIComponent(c.id)}/control`)).data;
  if (app.camera !== c) return;
  c.control = control;
  c.controlAt = performance.now();
  renderControl();
}

/** Seconds left of the current hold, counted down since it was read. */
function controlLeft(c) {
  const s = c.control && c.control.expires_in_s;
  if (s === null || s === undefined) return null;
  return Math.max(0, Math.round(s - (performance.now() - c.controlAt) / 1000));
}

/**
 * Who steers the camera, with priority and time left, and what this user may
 * do about it: take control (or over, from a lower priority), release,
 * reserve (admins). Redrawn only when its text or choices change.
 */
function renderControl() {
  const c = app.camera;
  const el = $("#control");
  if (!c || !el || !c.control) return;
  const { user, priority, reserved } = c.control;
  const left = controlLeft(c);
  const mine = user === app.me.user;
  const time = left === null ? "" : ` · ${left} s left`;
  const text = !user ? "Nobody is steering"
    : mine ? (reserved ? "You reserved this camera" : `You are steering${time}`)
      : reserved ? `${user} reserved this camera` : `${user} is steering · priority ${priority}${time}`;
  const act = (label, fn, title) => h("button", { type: "button", class: "ghost small", title, onclick: fn }, label);
  const choices = [];
  if (!mine && !reserved && can("ptz.control")) {
    choices.push(act(user ? "Take over" : "Take control", () => controlAction("POST", "control"),
      user ? "Take control now if your role's PTZ priority is higher" : "Hold the camera without moving it"));
  }
  if (mine) choices.push(act(reserved ? "End reservation" : "Release", () => controlAction("DELETE", "control")));
  if (can("admin") && !(mine && reserved)) {
    choices.push(act("Reserve", () => controlAction("POST", "reserve"), "Keep the camera for preset work: nobody else steers it until you release it"));
  }
  const key = JSON.stringify([text, choices.map((b) => b.textContent)]);
  if (el.dataset.key !== key) {
    el.dataset.key = key;
    el.dataset.holder = user || "";
    el.replaceChildren(h("span", { id: "control-holder" }, text), ...choices);
  }
  // A hold that ran out is read again rather than shown at 0 s.
  if (user && left === 0) later(() => loadControl().catch(() => {}), 500);
}

async function controlAction(method, what) {
  const c = app.camera;
  try {
    c.control = (await api(method, `/api/v1/cameras/${encodeURIComponent(c.id)}/${what}`)).data;
    c.controlAt = performance.now();
    renderControl();
  } catch (e) { fail(e); }
}

/** Counts the hold's time down once a second while this camera is shown. */
function startControl() {
  const c = app.camera;
  const tick = () => {
    if (app.camera !== c) return;
    renderControl();
    later(tick, 1000);
  };
  later(tick, 1000);
}

// ---------------------------------------------------------------- live view and joystick

/** The selected camera's live control: who steers, and the joystick. */
function liveView(cam) {
  const panel = h("section", { class: "panel ptz", "aria-labelledby": "live-title" },
    h("header", {}, h("h2", { id: "live-title" }, cam ? cam.name : "Camera"),
      h("span", { class: "muted mono", id: "ptz-status" })),
    h("div", { class: "control-line muted", id: "control", "aria-live": "polite" }));
  if (can("ptz.control")) panel.append(joystick());
  else panel.append(h("p", { class: "muted", id: "no-ptz" }, "Your role does not allow live PTZ control of this camera."));
  return panel;
}

/** Sends live commands one at a time, the newest winning: a stop is never overtaken by a move. */
const ptz = {
  next: null,
  busy: false,
  heartbeat: null,
  velocity: null,
  send(command) {
    this.next = command;
    if (!this.busy) this.pump();
  },
  async pump() {
    this.busy = true;
    while (this.next && app.camera) {
      const command = this.next;
      this.next = null;
      const path = `/api/v1/cameras/${encodeURIComponent(app.camera.id)}/ptz/${command.kind}`;
      try {
        const res = await api("POST", path, command.body);
        if (res.data && res.data.failed_over_from && res.data.failed_over_from.length) {
          toast(`Served by ${siteName(res.data.site)}: ${res.data.failed_over_from.map(siteName).join(", ")} did not answer`, "warn");
        }
        app.lastServed = res.data && res.data.site;
      } catch (e) { fail(e); if (command.kind !== "stop") this.halt(); }
    }
    this.busy = false;
  },
  /**
   * Moves at `v` ([pan, tilt, zoom], each -1..1) until halt. Sent at once, then at
   * most every 100 ms as `v` changes (the newest value last), and repeated every
   * 500 ms so the camera's own timeout never stops a held move.
   */
  move(v) {
    this.velocity = v;
    const now = performance.now();
    const wait = 100 - (now - (this.sentAt || 0));
    clearTimeout(this.trailing);
    if (wait <= 0) this.sendVelocity();
    else this.trailing = setTimeout(() => this.sendVelocity(), wait);
    if (!this.heartbeat) {
      this.heartbeat = setInterval(() => this.sendVelocity(), 500);
    }
  },
  sendVelocity() {
    const v = this.velocity;
    if (!v) return;
    this.sentAt = performance.now();
    this.send({ kind: "continuous", body: { pan: v[0], tilt: v[1], zoom: v[2], timeout_ms: 1000 } });
  },
  halt() {
    if (!this.velocity && !this.heartbeat) return;
    this.velocity = null;
    clearTimeout(this.trailing);
    clearInterval(this.heartbeat);
    this.heartbeat = null;
    this.send({ kind: "stop" });
  },
};

function speed() {
  const el = $("#speed");
  return el ? Number(el.value) / 100 : 0.5;
}

function joystick() {
  const knob = h("div", { class: "knob" });
  const pad = h("div", {
    class: "joystick", id: "joystick", role: "application", tabindex: "0", "data-live": true,
    "aria-label": "Pan and tilt: press and hold, or use the arrow keys",
    "aria-describedby": "keys-help",
  }, knob,
    h("span", { class: "arrow up" }, "▲"), h("span", { class: "arrow down" }, "▼"),
    h("span", { class: "arrow left" }, "◀"), h("span", { class: "arrow right" }, "▶"));
  const aim = (ev) => {
    const r = pad.getBoundingClientRect();
    let x = (ev.clientX - (r.left + r.width / 2)) / (r.width / 2);
    let y = (ev.clientY - (r.top + r.height / 2)) / (r.height / 2);
    const len = Math.hypot(x, y);
    if (len > 1) { x /= len; y /= len; }
    knob.style.transform = `translate(${x * 50}px, ${y * 50}px)`;
    const s = speed();
    ptz.move([round2(x * s), round2(-y * s), 0]);
  };
  const release = () => {
    pad.dataset.active = "false";
    knob.style.transform = "";
    ptz.halt();
  };
  pad.addEventListener("pointerdown", (ev) => {
    if (pad.getAttribute("aria-disabled") === "true") return;
    pad.setPointerCapture(ev.pointerId);
    pad.dataset.active = "true";
    aim(ev);
  });
  pad.addEventListener("pointermove", (ev) => { if (pad.dataset.active === "true") aim(ev); });
  for (const end of ["pointerup", "pointercancel", "lostpointercapture"]) pad.addEventListener(end, release);

  const hold = (label, text, z) => {
    const b = h("button", { type: "button", class: "ghost", "aria-label": label, "data-zoom": z > 0 ? "in" : "out", "data-live": true }, text);
    b.addEventListener("pointerdown", (ev) => { b.setPointerCapture(ev.pointerId); ptz.move([0, 0, z * speed()]); });
    for (const end of ["pointerup", "pointercancel", "lostpointercapture"]) b.addEventListener(end, () => ptz.halt());
    b.addEventListener("keydown", (ev) => { if ((ev.key === " " || ev.key === "Enter") && !ev.repeat) ptz.move([0, 0, z * speed()]); });
    b.addEventListener("keyup", (ev) => { if (ev.key === " " || ev.key === "Enter") ptz.halt(); });
    return b;
  };
  const home = h("button", { type: "button", class: "ghost", "data-live": true, onclick: () => ptz.send({ kind: "home" }) }, "Home");
  const stop = h("button", { type: "button", class: "danger", id: "stop", "data-live": true, title: "Stop every movement (Esc)",
    onclick: () => { keys.held.clear(); ptz.velocity = ptz.velocity || [0, 0, 0]; ptz.halt(); } }, "Stop");
  const shown = h("output", { id: "speed-value", for: "speed" }, "50 %");
  const slider = h("input", { id: "speed", type: "range", min: "5", max: "100", value: "50", "data-live": true,
    oninput: () => { shown.textContent = `${slider.value} %`; } });
  return h("div", {},
    h("div", { class: "controls" }, pad,
      h("div", { class: "zoom", role: "group", "aria-label": "Zoom" }, hold("Zoom in", "+", 1), hold("Zoom out", "−", -1)),
      h("div", {},
        h("div", { class: "speed field" }, h("label", { for: "speed" }, "Speed ", shown), slider),
        h("div", { class: "acts" }, home, stop))),
    h("p", { class: "keys", id: "keys-help" },
      h("kbd", {}, "←"), h("kbd", {}, "↑"), h("kbd", {}, "→"), h("kbd", {}, "↓"), " pan and tilt while held · ",
      h("kbd", {}, "+"), " ", h("kbd", {}, "−"), " zoom · digits then a pause or ", h("kbd", {}, "Enter"), " recall that preset · ",
      h("kbd", {}, "Esc"), " stop · on the picture: click to centre, drag a box to zoom there, wheel to zoom · a gamepad steers too"));
}

const round2 = (v) => Math.round(v * 100) / 100;

const keys = { held: new Set(), digits: "", digitTimer: null };

function keyVelocity() {
  const s = speed();
  const k = keys.held;
  const pan = (k.has("ArrowRight") ? 1 : 0) - (k.has("ArrowLeft") ? 1 : 0);
  const tilt = (k.has("ArrowUp") ? 1 : 0) - (k.has("ArrowDown") ? 1 : 0);
  const zoom = (k.has("+") ? 1 : 0) - (k.has("-") ? 1 : 0);
  return [pan * s, tilt * s, zoom * s];
}

function onKey(ev) {
  if (!app.camera || $("#dialog").open) return;
  // Esc closes an open menu first; it stops the camera only when none was open.
  if (closeMenus(ev)) return;
  // Typing in a field is not steering; buttons keep Enter and Space for themselves.
  if (ev.target.closest("input, select, textarea")) return;
  if (ev.target.closest("button, a") && (ev.key === "Enter" || ev.key === " ")) return;
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const key = ev.key === "=" ? "+" : ev.key === "_" ? "-" : ev.key;
  const steering = ["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "+", "-"].includes(key);
  if (ev.type === "keydown") {
    if (steering && can("ptz.control")) {
      ev.preventDefault();
      if (ev.repeat || keys.held.has(key)) return;
      keys.held.add(key);
      ptz.move(keyVelocity());
    } else if (key === "Escape" && can("ptz.control")) {
      keys.held.clear();
      ptz.halt();
    } else if (/^[0-9]$/.test(key) && can("preset.recall")) {
      keys.digits += key;
      clearTimeout(keys.digitTimer);
      keys.digitTimer = setTimeout(recallTyped, 700);
    } else if (key === "Enter" && keys.digits) {
      clearTimeout(keys.digitTimer);
      recallTyped();
    }
  } else if (steering && keys.held.delete(key)) {
    ev.preventDefault();
    if (keys.held.size === 0) ptz.halt();
    else ptz.move(keyVelocity());
  }
}

/** Opens a "⋯" menu upward when it would not fit below, and closes the others. */
function placeMenu(ev) {
  const d = ev.target;
  if (!d.open) return;
  for (const other of document.querySelectorAll("details.more[open]")) if (other !== d) other.open = false;
  const menu = d.querySelector(".menu");
  d.classList.remove("up");
  const r = menu.getBoundingClientRect();
  if (r.bottom > window.innerHeight - 8) d.classList.add("up");
}

/** Esc and a click elsewhere close an open menu; focus returns to its button. */
function closeMenus(ev) {
  const open = [...document.querySelectorAll("details.more[open]")];
  if (!open.length) return false;
  if (ev.type === "keydown" && ev.key !== "Escape") return false;
  if (ev.type === "pointerdown" && ev.target.closest("details.more")) return false;
  for (const d of open) {
    d.open = false;
    if (ev.type === "keydown") d.querySelector("summary").focus();
  }
  return ev.type === "keydown";
}

/**
 * A browser gamepad as a joystick: the left stick pans and tilts, the right
 * stick's vertical axis zooms (both with a dead zone), buttons 1 to 10 recall
 * presets 1 to 10. Read while the cameras page is shown and a pad is there.
 */
const gamepad = {
  frame: 0,
  moving: false,
  pressed: new Set(),
  dead: (v) => (Math.abs(v) < 0.15 ? 0 : v),
  start() {
    if (this.frame) return;
    const tick = () => {
      this.frame = 0;
      const pad = [...(navigator.getGamepads ? navigator.getGamepads() : [])].find((p) => p && p.connected);
      if (!pad) return;
      if (app.camera && can("ptz.control") && document.body.dataset.sites !== "down") this.read(pad);
      this.frame = requestAnimationFrame(tick);
    };
    this.frame = requestAnimationFrame(tick);
  },
  read(pad) {
    const s = speed();
    const v = [this.dead(pad.axes[0] || 0), -this.dead(pad.axes[1] || 0), -this.dead(pad.axes[3] || 0)].map((x) => round2(x * s));
    if (v.some((x) => x !== 0)) {
      this.moving = true;
      ptz.move(v);
    } else if (this.moving) {
      this.moving = false;
      ptz.halt();
    }
    pad.buttons.slice(0, 10).forEach((b, i) => {
      if (b.pressed && !this.pressed.has(i)) { this.pressed.add(i); if (can("preset.recall")) recall(i + 1); }
      if (!b.pressed) this.pressed.delete(i);
    });
  },
};

function recallTyped() {
  const n = Number(keys.digits);
  keys.digits = "";
  if (n >= 1) recall(n);
}

let statusLoop = 0;

function stopCameraLoops() {
  statusLoop++;
  ptz.halt();
  keys.held.clear();
  for (const t of app.timers) clearTimeout(t);
  app.timers.clear();
  app.camera = null;
}

// ---------------------------------------------------------------- pictures: tiles and streams

/** Concatenates two byte arrays. */
function joinBytes(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Where `needle` starts in `hay`, or -1. */
function findBytes(hay, needle) {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

const HEAD_END = new TextEncoder().encode("\r\n\r\n");

/**
 * The grid's pushed picture stream (`/streams`: multipart JPEG parts, each
 * naming its camera and site), one connection for every tile: browsers open
 * only six to a server. Every picture goes to `onFrame(camera, url, site)`,
 * every problem (a camera's JSON part, or for all of them a refused or
 * broken connection, camera null) to `onProblem(camera, why)`. It
 * reconnects a second after a break, until closed.
 */
class FrameStream {
  constructor(cameras, onFrame, onProblem) {
    this.cameras = cameras;
    this.onFrame = onFrame;
    this.onProblem = onProblem;
    this.closed = false;
    this.run();
  }

  async run() {
    const text = new TextDecoder();
    while (!this.closed) {
      try {
        this.abort = new AbortController();
        const res = await fetch(`/api/v1/streams?cameras=${this.cameras.map(encodeURIComponent).join(",")}&fps=5`,
          { credentials: "same-origin", cache: "no-store", signal: this.abort.signal });
        if (res.status === 401) { if (app.me) showLogin("Your session ended; log in again."); return; }
        if (!res.ok) {
          let detail = `HTTP ${res.status}`;
          try { detail = (await res.json()).detail || detail; } catch { /* not JSON */ }
          throw new Error(detail);
        }
        const reader = res.body.getReader();
        let buf = new Uint8Array(0);
        for (;;) {
          const { value, done } = await reader.read();
          if (done || this.closed) break;
          buf = joinBytes(buf, value);
          // Every whole part in the buffer: headers, an empty line, Content-Length bytes, CRLF.
          for (;;) {
            const end = findBytes(buf, HEAD_END);
            if (end < 0) break;
            const head = text.decode(buf.subarray(0, end));
            const length = Number((head.match(/content-length:\s*(\d+)/i) || [])[1]);
            if (!Number.isFinite(length)) { buf = new Uint8Array(0); break; }
            const start = end + HEAD_END.length;
            if (buf.length < start + length + 2) break;
            const body = buf.slice(start, start + length);
            const type = (head.match(/content-type:\s*([^\r\n]+)/i) || [])[1] || "";
            const site = (head.match(/x-tandem-site:\s*([^\r\n]+)/i) || [])[1] || "";
            const camera = ((head.match(/x-tandem-camera:\s*([^\r\n]+)/i) || [])[1] || "").trim();
            if (type.startsWith("image/")) this.onFrame(camera, URL.createObjectURL(new Blob([body], { type })), site.trim());
            else {
              let why = "the service sent something unreadable";
              try { why = JSON.parse(text.decode(body)).error || why; } catch { /* keep the plain words */ }
              this.onProblem(camera, why);
            }
            buf = buf.subarray(start + length + 2);
          }
        }
      } catch (e) {
        if (this.closed) return;
        this.onProblem(null, e.message);
      }
      if (!this.closed) await new Promise((r) => setTimeout(r, 1000));
    }
  }

  close() {
    this.closed = true;
    if (this.abort) this.abort.abort();
  }
}

/** The layouts of the picture grid: cameras shown at once. */
const LAYOUTS = [[1, "1"], [4, "2×2"], [9, "3×3"]];

function layoutKey() { return `tandem.layout.${app.me ? app.me.user : ""}`; }

/** The user's layout: saved in this browser per user, else one camera. */
function layout() {
  if (!app.layout) {
    let saved = null;
    try { saved = JSON.parse(localStorage.getItem(layoutKey()) || "null"); } catch { saved = null; }
    const ok = saved && LAYOUTS.some(([n]) => n === saved.size) && Array.isArray(saved.cameras);
    app.layout = ok ? { size: saved.size, cameras: saved.cameras.filter((id) => app.cameras.some((c) => c.id === id)), previous: null }
      : { size: 1, cameras: [], previous: null };
  }
  return app.layout;
}

function saveLayout() {
  const { size, cameras } = layout();
  try { localStorage.setItem(layoutKey(), JSON.stringify({ size, cameras })); } catch { /* private mode: not kept */ }
}

/** Puts camera `id` in the grid (in place of the selected one when it is not shown), and fills empty places. */
function placeInLayout(id) {
  const l = layout();
  if (!l.cameras.includes(id)) {
    const at = app.shownCamera ? l.cameras.indexOf(app.shownCamera) : -1;
    if (at >= 0 && l.cameras.length >= l.size) l.cameras[at] = id;
    else l.cameras.unshift(id);
  }
  for (const c of app.cameras) {
    if (l.cameras.length >= l.size) break;
    if (!l.cameras.includes(c.id)) l.cameras.push(c.id);
  }
  l.cameras = l.cameras.slice(0, Math.max(l.size, l.cameras.indexOf(id) + 1));
  app.shownCamera = id;
  saveLayout();
}

function setLayout(size) {
  const l = layout();
  l.size = size;
  l.previous = null;
  placeInLayout(app.camera.id);
  syncTiles();
}

/** Double-click: one picture fills the grid; again: the grid as it was. */
function toggleMaximise(id) {
  const l = layout();
  if (l.previous) {
    Object.assign(l, l.previous, { previous: null });
  } else {
    l.previous = { size: l.size, cameras: [...l.cameras] };
    l.size = 1;
    l.cameras = [id];
  }
  if (app.camera.id !== id) location.hash = `#/cameras/${encodeURIComponent(id)}`;
  else syncTiles();
}

/** The viewer: layout choice, the grid of pictures, the selected camera's controls. */
function renderViewer(cam) {
  const viewer = $("#viewer");
  if (!$("#tiles")) {
    viewer.replaceChildren(
      h("div", { class: "layouts", role: "group", "aria-label": "Pictures at once" },
        ...LAYOUTS.map(([n, label]) => h("button", { type: "button", class: "ghost small", "data-layout": String(n),
          "aria-label": `${label} ${n === 1 ? "picture" : "pictures"} at once`, onclick: () => setLayout(n) }, label)),
        h("span", { class: "muted small" }, "Click a picture to select its camera; double-click to maximise it.")),
      h("div", { id: "tiles", class: "tiles" }),
      h("div", { id: "ptz-slot" }));
  }
  syncTiles();
  $("#ptz-slot").replaceChildren(liveView(cam));
}

/** Brings the grid in line with the layout: tiles kept (their streams too), added or closed. */
function syncTiles() {
  const grid = $("#tiles");
  if (!grid || !app.camera) return;
  const l = layout();
  const shown = l.cameras.slice(0, l.size);
  if (!shown.includes(app.camera.id)) shown[0] = app.camera.id;
  app.tiles = app.tiles || new Map();
  for (const [id, t] of app.tiles) {
    if (!shown.includes(id)) { if (t.url) URL.revokeObjectURL(t.url); app.tiles.delete(id); }
  }
  const els = shown.map((id) => {
    let t = app.tiles.get(id);
    if (!t) { t = makeTile(id); app.tiles.set(id, t); }
    const selected = id === app.camera.id;
    t.el.dataset.selected = String(selected);
    t.el.setAttribute("aria-pressed", String(selected));
    // The selected camera's picture answers to the ids the rest of the page uses.
    t.img.id = selected ? "snapshot" : "";
    t.label.id = selected ? "snapshot-site" : "";
    t.stale.id = selected ? "snapshot-stale" : "";
    return t.el;
  });
  grid.className = `tiles n${l.size}`;
  els.forEach((el, i) => { if (grid.children[i] !== el) grid.insertBefore(el, grid.children[i] || null); });
  while (grid.children.length > els.length) grid.lastElementChild.remove();
  for (const b of document.querySelectorAll("[data-layout]")) b.setAttribute("aria-pressed", String(Number(b.dataset.layout) === l.size));
  if (!app.tileTimer) app.tileTimer = setInterval(ageTiles, 1000);
  // One stream for the grid, opened again only when the cameras shown change.
  const key = [...shown].sort().join(",");
  if (!app.gridStream || app.gridStream.key !== key) {
    if (app.gridStream) app.gridStream.close();
    app.gridStream = new FrameStream(shown, onTileFrame, onTileProblem);
    app.gridStream.key = key;
  }
}

function onTileFrame(camera, url, site) {
  const t = app.tiles && app.tiles.get(camera);
  if (!t) { URL.revokeObjectURL(url); return; }
  t.img.src = url;
  if (t.url) URL.revokeObjectURL(t.url);
  t.url = url;
  t.img.dataset.frames = String(Number(t.img.dataset.frames || 0) + 1);
  t.img.dataset.site = site;
  t.last = { at: performance.now(), site };
  t.problem = null;
  t.label.textContent = `${t.name} · live · ${siteName(site)}`;
  t.stale.hidden = true;
}

function onTileProblem(camera, why) {
  for (const t of (app.tiles || new Map()).values()) {
    if (camera && t.id !== camera) continue;
    t.problem = why;
    ageTile(t);
  }
}

/** One picture of the grid, with its own stream. */
function makeTile(id) {
  const cam = app.cameras.find((c) => c.id === id);
  const name = cam ? cam.name : id;
  // Not draggable: a drag on the picture draws a box to zoom to, not an image to drop.
  const img = h("img", { alt: `Live picture of ${name}`, draggable: "false" });
  const label = h("div", { class: "overlay" }, `${name} · connecting…`);
  const stale = h("div", { class: "stale", hidden: true });
  const box = h("div", { class: "zoombox", hidden: true });
  const el = h("div", {
    class: "tile", role: "button", tabindex: "0", "data-camera": id, title: `${name}: click to select, double-click to maximise`,
    onkeydown: (ev) => { if (ev.key === "Enter" && ev.target === el) select(); },
  }, img, label, stale, box);
  const select = () => { if (app.camera && app.camera.id !== id) location.hash = `#/cameras/${encodeURIComponent(id)}`; };
  pictureControl(el, img, box, id, select);
  return { id, name, el, img, label, stale, url: null, last: null, problem: null };
}

/** The part of `img` the picture fills (object-fit: contain leaves bars), with its aspect. */
function pictureRect(img) {
  const r = img.getBoundingClientRect();
  const nw = img.naturalWidth || 16;
  const nh = img.naturalHeight || 9;
  const scale = Math.min(r.width / nw, r.height / nh);
  const width = nw * scale;
  const height = nh * scale;
  return { left: r.left + (r.width - width) / 2, top: r.top + (r.height - height) / 2, width, height, aspect: nw / nh };
}

/** A screen point as a picture point (−1..1 each way), or null outside the picture. */
function toPicture(rect, cx, cy) {
  const x = ((cx - rect.left) / rect.width) * 2 - 1;
  const y = ((cy - rect.top) / rect.height) * 2 - 1;
  return Math.abs(x) <= 1 && Math.abs(y) <= 1 ? { x, y } : null;
}

/** Asks the service to bring a picture point to the centre, `factor` times closer. */
async function centreOn(point, aspect, factor = 1) {
  if (!app.camera || !can("ptz.control") || document.body.dataset.sites === "down") return;
  try {
    await api("POST", `/api/v1/cameras/${encodeURIComponent(app.camera.id)}/ptz/centre`,
      { x: round3(point.x), y: round3(point.y), aspect: round3(aspect), factor: round3(factor) });
  } catch (e) { fail(e); }
}

const round3 = (v) => Math.round(v * 1000) / 1000;

/**
 * PTZ on the selected picture: a click brings that point to the centre, a
 * dragged rectangle zooms to it, the wheel zooms in and out. On another
 * picture a click selects its camera; a double-click maximises either (the
 * click waits a moment so that a double-click is not also a move).
 */
function pictureControl(el, img, box, id, select) {
  let start = null;
  let pendingClick = null;
  const selected = () => app.camera && app.camera.id === id;
  const steerable = () => selected() && can("ptz.control") && document.body.dataset.sites !== "down";
  el.addEventListener("pointerdown", (ev) => {
    if (ev.button !== 0 || !steerable()) return;
    start = { x: ev.clientX, y: ev.clientY, id: ev.pointerId };
  });
  el.addEventListener("pointermove", (ev) => {
    if (!start || ev.pointerId !== start.id) return;
    const dx = ev.clientX - start.x;
    const dy = ev.clientY - start.y;
    if (Math.hypot(dx, dy) < 8 && box.hidden) return;
    if (box.hidden) el.setPointerCapture(ev.pointerId);
    const r = el.getBoundingClientRect();
    box.hidden = false;
    Object.assign(box.style, {
      left: `${Math.min(start.x, ev.clientX) - r.left}px`, top: `${Math.min(start.y, ev.clientY) - r.top}px`,
      width: `${Math.abs(dx)}px`, height: `${Math.abs(dy)}px`,
    });
  });
  el.addEventListener("pointerup", (ev) => {
    if (!start || ev.pointerId !== start.id) return;
    const from = start;
    start = null;
    if (box.hidden) return; // a click: handled by the click event
    box.hidden = true;
    const rect = pictureRect(img);
    const centre = toPicture(rect, (from.x + ev.clientX) / 2, (from.y + ev.clientY) / 2);
    const w = Math.abs(ev.clientX - from.x) / rect.width;
    const hgt = Math.abs(ev.clientY - from.y) / rect.height;
    if (centre) centreOn(centre, rect.aspect, Math.min(50, 1 / Math.max(w, hgt, 0.02)));
    el.dataset.dragged = "true";
  });
  el.addEventListener("pointercancel", () => { start = null; box.hidden = true; });
  el.addEventListener("click", (ev) => {
    if (el.dataset.dragged === "true") { el.dataset.dragged = ""; return; }
    if (!selected()) { select(); return; }
    if (!steerable()) return;
    const point = toPicture(pictureRect(img), ev.clientX, ev.clientY);
    if (!point) return;
    const aspect = pictureRect(img).aspect;
    clearTimeout(pendingClick);
    pendingClick = setTimeout(() => centreOn(point, aspect), 250);
  });
  el.addEventListener("dblclick", () => { clearTimeout(pendingClick); toggleMaximise(id); });
  // The wheel: one request per pause, however many notches.
  let notches = 0;
  let wheelTimer = null;
  el.addEventListener("wheel", (ev) => {
    if (!steerable()) return;
    ev.preventDefault();
    notches += ev.deltaY < 0 ? 1 : -1;
    clearTimeout(wheelTimer);
    wheelTimer = setTimeout(() => {
      const factor = Math.pow(1.25, notches);
      notches = 0;
      centreOn({ x: 0, y: 0 }, pictureRect(img).aspect, Math.min(50, Math.max(0.05, factor)));
    }, 150);
  }, { passive: false });
}

/** A picture that stopped says so, with the age of its last frame. */
function ageTile(t) {
  const age = t.last ? Math.round((performance.now() - t.last.at) / 1000) : null;
  const stalled = t.problem || (age !== null && age >= 3);
  if (!stalled) { t.stale.hidden = true; return; }
  const why = document.body.dataset.sites === "down" ? "no site answers" : t.problem ? humanize(t.problem).text : "the picture stalled";
  t.stale.hidden = false;
  t.stale.textContent = `No live picture: ${why}${age !== null ? ` · last picture ${age} s ago from ${siteName(t.last.site)}` : ""}`;
  t.label.textContent = t.last ? `${t.name} · frozen · ${siteName(t.last.site)}` : `${t.name} · no picture`;
}

function ageTiles() {
  if (!app.tiles || !app.tiles.size) { clearInterval(app.tileTimer); app.tileTimer = null; return; }
  for (const t of app.tiles.values()) ageTile(t);
}

/** Closes every picture stream (leaving the cameras page, logging out). */
function closeTiles() {
  if (app.gridStream) { app.gridStream.close(); app.gridStream = null; }
  for (const t of (app.tiles || new Map()).values()) if (t.url) URL.revokeObjectURL(t.url);
  app.tiles = new Map();
}

/** Shows the camera's position about once a second. */
function startStatus() {
  if (!can("ptz.control") && !can("preset.recall")) return;
  const loop = ++statusLoop;
  const tick = async () => {
    if (loop !== statusLoop || !app.camera) return;
    try {
      const s = (await api("GET", `/api/v1/cameras/${encodeURIComponent(app.camera.id)}/ptz/status`)).data;
      if (loop !== statusLoop) return;
      app.camera.status = s;
      const el = $("#ptz-status");
      if (el) el.textContent = `${pos(s.position)}${s.moving ? " · moving" : ""}`;
    } catch { /* the snapshot overlay already says the camera is unreachable */ }
    later(tick, 1000);
  };
  tick();
}

// ---------------------------------------------------------------- presets

function presetsPanel() {
  const panel = h("section", { class: "panel", id: "presets", "aria-labelledby": "presets-title" },
    h("header", {}, h("h2", { id: "presets-title" }, "Presets"),
      h("span", { class: "muted", id: "presets-count" })),
    h("div", { class: "scroll" }, h("table", {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "No."), h("th", { scope: "col" }, "Name"),
        h("th", { scope: "col" }, "Sites"), h("th", { scope: "col" }, h("span", { class: "sr" }, "Actions")))),
      h("tbody", { id: "preset-rows" }))));
  if (can("preset.manage")) {
    const form = h("form", { class: "save row", id: "save-preset", "aria-label": "Save the current view as a preset" },
      h("div", {}, h("label", { for: "new-number" }, "Number"), h("input", { id: "new-number", name: "number", type: "number", min: "1", max: "9999", placeholder: "next" })),
      h("div", { class: "grow" }, h("label", { for: "new-name" }, "Name"), h("input", { id: "new-name", name: "name", required: true, maxlength: "64" })),
      h("button", { type: "submit", "data-live": true }, "Save current view"));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = { name: form.name.value.trim() };
      if (form.number.value) body.number = Number(form.number.value);
      const done = await operate("POST", "", body, `Saved “${body.name}”`);
      if (done) form.reset();
    });
    panel.append(form);
  }
  return panel;
}

/** The open mismatch about canonical preset `p` (by its number on the primary, or its name), if any. */
function mismatchOf(p) {
  return app.camera.mismatches.find((m) => (m.primary && m.primary.number === p.number)
    || (m.kind === "only_on_primary" && m.primary && m.primary.name === p.name));
}

/**
 * Each site's state of canonical preset `p`: from the newest operation that
 * touched it, else from the last scan: in sync, missing there, or what
 * differs (name, number, position).
 */
function siteStates(p) {
  const c = app.camera;
  const number = p.number;
  const op = c.ops.find((o) => o.action && (o.action.number === number || o.action.renumber_from === number) && o.action.kind !== "import");
  const m = mismatchOf(p);
  return app.sites.map((s) => {
    const part = op && op.sites.find((x) => x.site === s.id);
    if (part && part.state !== "applied") return { site: s.id, state: part.state, error: part.error };
    const side = s.priority === 1 ? "primary" : "secondary";
    if (m && !m[side]) return { site: s.id, state: "missing", error: null };
    if (m && s.priority !== 1) {
      const what = { name_differs: "name differs", number_differs: "number differs", position_differs: "position differs" }[m.kind];
      if (what) return { site: s.id, state: "differs", text: what, error: null };
    }
    return { site: s.id, state: part ? "applied" : "synced", error: null };
  });
}

// "applied" (an operation's part) and "in sync" (a scan) mean the same to the
// operator: they read and look the same; the attribute keeps them apart.
const STATE_TEXT = { applied: "in sync", pending: "pending", failed: "failed", differs: "differs", synced: "in sync", missing: "missing", extra: "only here" };

/**
 * Patches the preset table in place, keyed by number: a live update changes a
 * row's cells but never replaces the row, so an open "⋯" menu stays open,
 * focus stays where it was and a click never lands on a detached button.
 */
function renderPresets() {
  const c = app.camera;
  const rows = $("#preset-rows");
  if (!rows) return;
  // A preset only the secondary holds is not in tandem's list, but it is on a
  // site: it gets a row too, so every difference shows in the table.
  const extra = c.mismatches.filter((m) => m.kind === "only_on_secondary" && m.secondary);
  $("#presets-count").textContent = `${c.presets.length} on this camera${extra.length ? `, ${extra.length} only on the secondary` : ""}`;
  const existing = new Map([...rows.children].map((tr) => [tr.dataset.preset, tr]));
  const wanted = c.presets.map((p) => {
    const key = String(p.number);
    const tr = existing.get(key) || presetRow();
    existing.delete(key);
    tr.dataset.preset = key;
    patchPresetRow(tr, p);
    return tr;
  }).concat(extra.map((m) => {
    const key = `secondary:${m.key}`;
    const tr = existing.get(key) || presetRow();
    existing.delete(key);
    tr.dataset.preset = key;
    patchExtraRow(tr, m.secondary);
    return tr;
  }));
  for (const tr of existing.values()) tr.remove();
  // Move only rows out of place: moving a row would blur a focused control in it.
  wanted.forEach((tr, i) => { if (rows.children[i] !== tr) rows.insertBefore(tr, rows.children[i] || null); });
}

/** An empty preset row: its cells are filled, and refilled, by `patchPresetRow`. */
function presetRow() {
  const tr = h("tr", {},
    h("td", { class: "num" }),
    h("td", {}, h("img", { class: "thumb", alt: "", hidden: true, onerror: (ev) => { ev.target.hidden = true; }, onload: (ev) => { ev.target.hidden = false; } }),
      h("span", { class: "pname" }), h("span", { class: "flags" }), h("div", { class: "muted mono small" })),
    h("td", { class: "states" }),
    h("td", {}, h("div", { class: "acts" })));
  return tr;
}

/** Sets a node's text only when it changed, so unchanged text is never re-laid out. */
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/** A row for a preset only the secondary holds: what it is, where, and no actions but the banner's. */
function patchExtraRow(tr, sp) {
  tr.preset = null;
  tr.classList.add("extra");
  const [num, name, states, actions] = tr.children;
  setText(num, sp.number ? `S: ${sp.number}` : "—");
  setText(name.querySelector(".pname"), sp.name);
  setText(name.querySelector(".mono"), pos(sp.position));
  const key = "extra";
  if (states.dataset.key !== key) {
    states.dataset.key = key;
    states.replaceChildren(
      h("span", { class: "chip missing", "data-site": "primary", "data-state": "missing" }, "P: missing"),
      h("span", { class: "chip differs", "data-site": "secondary", "data-state": "extra" }, "S: only here"));
    actions.firstChild.replaceChildren(h("span", { class: "muted small" }, "see the mismatches above"));
  }
}

/** Brings one row up to date with preset `p`, touching only what differs. */
function patchPresetRow(tr, p) {
  tr.preset = p; // the menu's actions read the row's current preset, not the one it was built for
  const [num, name, states, actions] = tr.children;
  const m = mismatchOf(p);
  // With numbers that differ, both show: keyboards on each site use their own.
  setText(num, m && m.kind === "number_differs" && m.secondary ? `${p.number} · S: ${m.secondary.number}` : String(p.number));
  setText(name.querySelector(".pname"), p.name);
  setText(name.querySelector(".mono"), m && m.kind === "name_differs" && m.secondary
    ? `S calls it “${m.secondary.name}” · ${pos(p.position)}` : pos(p.position));
  tr.classList.toggle("recalled", app.camera.recalled === p.number);
  // The picture taken where it points, fetched again after each operation on it.
  const op = app.camera.ops.find((o) => o.action && (o.action.number === p.number || o.action.renumber_from === p.number));
  const thumb = name.querySelector("img.thumb");
  const src = `/api/v1/cameras/${encodeURIComponent(app.camera.id)}/presets/${p.number}/picture?v=${op ? op.id : 0}`;
  if (thumb.dataset.src !== src) {
    thumb.dataset.src = src;
    thumb.alt = `Where ${p.name} points`;
    thumb.src = src;
  }
  const recalled = app.camera.recalled === p.number;
  const flags = `${p.locked ? "L" : ""}${p.is_default ? "D" : ""}${recalled ? "R" : ""}`;
  const flagBox = name.querySelector(".flags");
  if (flagBox.dataset.flags !== flags) {
    flagBox.dataset.flags = flags;
    flagBox.replaceChildren(p.locked ? h("span", { class: "chip", title: "locked" }, "locked") : "",
      p.is_default ? h("span", { class: "chip" }, "default") : "",
      recalled ? h("span", { class: "chip recalled" }, "last recalled") : "");
  }
  const parts = siteStates(p);
  const stateKey = JSON.stringify(parts);
  if (states.dataset.key !== stateKey) {
    states.dataset.key = stateKey;
    const chips = parts.map((s) => h("span", {
      class: `chip ${s.state}`, "data-site": s.site, "data-state": s.state, title: s.error || "",
    }, `${siteName(s.site).slice(0, 1)}: ${s.text || STATE_TEXT[s.state]}`));
    // A failure says why where it shows; a pending part's last error is in the tooltip.
    for (const s of parts.filter((x) => x.state === "failed" && x.error)) {
      chips.push(h("div", { class: "reason small" }, `${siteName(s.site)}: ${s.error}`));
    }
    states.replaceChildren(...chips);
  }
  const manage = can(p.locked ? "preset.manage_locked" : "preset.manage");
  const actsKey = `${p.number}|${p.name}|${manage}`;
  const acts = actions.firstChild;
  if (acts.dataset.key === actsKey) return;
  // Labels name the preset, so they follow a rename; an open menu is kept open.
  const wasOpen = !!acts.querySelector("details[open]");
  acts.dataset.key = actsKey;
  acts.replaceChildren();
  if (can("preset.recall")) acts.append(h("button", { type: "button", class: "small", "data-live": true, disabled: document.body.dataset.sites === "down", onclick: () => recall(tr.preset.number), "aria-label": `Recall ${p.number} ${p.name}` }, "Recall"));
  if (manage) {
    const item = (label, aria, fn) => h("button", { type: "button", class: "ghost small", "aria-label": aria,
      onclick: (ev) => { ev.target.closest("details").open = false; fn(tr.preset); } }, label);
    acts.append(h("details", { class: "more", open: wasOpen, ontoggle: placeMenu },
      h("summary", { "aria-label": `More actions for ${p.number} ${p.name}` }, "⋯"),
      h("div", { class: "menu" },
        item("Rename", `Rename ${p.number}`, rename),
        item("Renumber", `Renumber ${p.number}`, renumber),
        item("Re-aim here", `Re-aim ${p.number} to the current view`, reaim),
        item("Delete", `Delete ${p.number}`, remove))));
  }
}

/** Runs a preset operation and says how each site took it. */
async function operate(method, suffix, body, what) {
  const c = app.camera;
  try {
    const res = await api(method, `/api/v1/cameras/${encodeURIComponent(c.id)}/presets${suffix}`, body);
    const sites = (res.data && res.data.sites) || [];
    const pending = sites.filter((s) => s.state !== "applied");
    if (pending.length === 0) toast(`${what}: applied on ${sites.map((s) => siteName(s.site)).join(" and ")}`, "ok");
    else toast(`${what}: ${pending.map((s) => `${s.state} on ${siteName(s.site)}${s.error ? ` (${s.error})` : ""}`).join("; ")}`, "warn");
    await reloadCamera();
    loadCameras().catch(fail);
    return true;
  } catch (e) { fail(e); return false; }
}

async function recall(number) {
  if (!app.camera) return;
  try {
    const res = await api("POST", `/api/v1/cameras/${encodeURIComponent(app.camera.id)}/presets/${number}/recall`);
    const p = app.camera.presets.find((x) => x.number === number);
    app.camera.recalled = number;
    renderPresets();
    toast(`Recalled ${number}${p ? ` “${p.name}”` : ""} on ${siteName(res.data.site)}`);
  } catch (e) { fail(e); }
}

function input(label, attrs) {
  const id = `ask-${Math.random().toString(36).slice(2)}`;
  const el = h("input", { id, ...attrs });
  return [h("div", { class: "field" }, h("label", { for: id }, label), el), el];
}

/**
 * Said before preset work that stores a position: an ONVIF site stores where
 * the camera points, so the camera turns there and back. Nothing is said
 * when only XProtect sites (which store coordinates) take it.
 */
function movesNote(where) {
  const onvif = app.sites.filter((s) => s.kind !== "xprotect").map((s) => siteName(s.id).toLowerCase());
  if (!onvif.length) return null;
  const on = where || (onvif.length === app.sites.length ? "both sites" : `the ${onvif.join(" and ")}`);
  return h("p", { class: "note", "data-moves": "camera" },
    `The camera will turn to the preset's position to store it on ${on}, then return to where it points now (unless someone takes control meanwhile).`);
}

async function rename(p) {
  const name = await ask(`Rename preset ${p.number}`, (body) => {
    const [field, el] = input("New name", { value: p.name, maxlength: "64", required: true });
    put(body, field, movesNote());
    return () => el.value.trim();
  }, "Rename");
  if (name && name !== p.name) await operate("PATCH", `/${p.number}`, { name }, `Renamed ${p.number} to “${name}”`);
}

async function renumber(p) {
  const number = await ask(`Renumber “${p.name}”`, (body) => {
    const [field, el] = input("New number", { type: "number", min: "1", max: "9999", value: p.number });
    put(body, field, h("p", { class: "muted" }, "Keyboards recall presets by number: operators will need the new one."), movesNote());
    return () => Number(el.value);
  }, "Renumber");
  if (number && number !== p.number) await operate("PATCH", `/${p.number}`, { number }, `Renumbered “${p.name}” to ${number}`);
}

async function reaim(p) {
  const s = app.camera.status;
  const ok = await ask(`Re-aim “${p.name}”`, (body) => {
    put(body, h("p", {}, `Preset ${p.number} will point where the camera points now, on both sites.`),
      h("p", { class: "muted mono" }, `was: ${pos(p.position)}`),
      h("p", { class: "muted mono" }, `now: ${s ? pos(s.position) : "the current view"}`),
      movesNote());
  }, "Re-aim");
  if (ok) await operate("PATCH", `/${p.number}`, { current_view: true }, `Re-aimed ${p.number} “${p.name}”`);
}

async function remove(p) {
  const ok = await ask(`Delete preset ${p.number}?`, (body) => {
    body.append(h("p", {}, `“${p.name}” will be removed from both sites.`));
  }, "Delete", true);
  if (ok) await operate("DELETE", `/${p.number}`, undefined, `Deleted ${p.number} “${p.name}”`);
}

// ---------------------------------------------------------------- mismatches

/** A small map of pan (x) and tilt (y), with the primary's and secondary's points. */
function posmap(a, b) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "-1.1 -1.1 2.2 1.4");
  svg.setAttribute("class", "posmap");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `Positions: primary ${pos(a)}; secondary ${pos(b)}`);
  const add = (tag, attrs) => {
    const el = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    svg.append(el);
    return el;
  };
  add("rect", { x: -1, y: -1, width: 2, height: 1.2, fill: "none", stroke: "#2c3b4a", "stroke-width": 0.01 });
  add("line", { x1: -1, y1: 0, x2: 1, y2: 0, stroke: "#2c3b4a", "stroke-width": 0.01 });
  // P's label above its point, S's below, so close points never overlap their labels.
  const dot = (p, colour, label, dy) => {
    if (!p) return;
    const y = -Math.max(-0.2, Math.min(1, p.tilt + 0.1));
    add("circle", { cx: p.pan, cy: y, r: 0.04 + 0.06 * (1 - p.zoom), fill: "none", stroke: colour, "stroke-width": 0.025 });
    const t = add("text", { x: p.pan, y: y + dy, fill: colour, "font-size": 0.16, "text-anchor": "middle", "font-weight": "700" });
    t.textContent = label;
  };
  dot(a && a.position, "#7fd1ff", "P", -0.14);
  dot(b && b.position, "#ffd166", "S", 0.24);
  return svg;
}

/** One site's side of mismatch `key`; with PTZ control, a picture of its position on request. */
function side(key, title, p, unknown) {
  const box = h("div", { class: "side", "data-side": title.toLowerCase() }, h("b", {}, title));
  if (!p) {
    box.append(h("div", { class: "muted" }, "absent"));
    return box;
  }
  const site = app.sites.find((s) => (title === "Primary" ? s.priority === 1 : s.priority !== 1));
  if (p.number && site) {
    box.append(h("img", {
      class: "thumb side-thumb", alt: `Where “${p.name}” points on the ${title.toLowerCase()}`, hidden: true,
      src: `/api/v1/cameras/${encodeURIComponent(app.camera.id)}/presets/${p.number}/picture?site=${encodeURIComponent(site.id)}`,
      onerror: (ev) => { ev.target.hidden = true; }, onload: (ev) => { ev.target.hidden = false; },
    }));
  }
  box.append(h("div", {}, `${p.number ?? "no number"} · “${p.name}”`),
    h("div", { class: "mono" }, unknown || !p.position ? "position not reported" : pos(p.position)));
  if (p.position && !unknown && can("ptz.control")) {
    box.append(h("button", {
      type: "button", class: "ghost small look-at",
      "aria-label": `Show view at the ${title.toLowerCase()}'s position`,
      title: "The camera turns there for a picture, then back to where it points now",
      onclick: () => lookAt(p.position, title, key),
    }, "Show view"));
    const shown = app.camera.looks.get(`${key}|${title}`);
    if (shown) box.append(lookImage(shown, title));
  }
  return box;
}

function lookImage(url, title) {
  return h("img", { class: "look", src: url, alt: `The camera's view at the ${title.toLowerCase()}'s position` });
}


/**
 * Shows the camera's view at `position` beside mismatch `key`: the service turns
 * the camera there, takes a picture, and turns it back (unless someone took
 * control meanwhile). The picture is kept with the camera, so a banner redrawn
 * meanwhile (another camera's scan) still shows it.
 */
async function lookAt(position, title, key) {
  const c = app.camera;
  const id = encodeURIComponent(c.id);
  try {
    const res = await fetch(`/api/v1/cameras/${id}/look`, {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: { "content-type": "application/json" }, body: JSON.stringify(position),
    });
    if (!res.ok) {
      let detail = `HTTP ${res.status}`;
      try { detail = (await res.json()).detail || detail; } catch { /* not JSON */ }
      throw new Error(`no picture: ${detail}`);
    }
    const url = URL.createObjectURL(await res.blob());
    const old = c.looks.get(`${key}|${title}`);
    if (old) URL.revokeObjectURL(old);
    c.looks.set(`${key}|${title}`, url);
    if (app.camera !== c) return;
    const box = [...document.querySelectorAll("#mismatches tr[data-mismatch]")]
      .find((tr) => tr.dataset.mismatch === key)?.querySelector(`.side[data-side="${title.toLowerCase()}"]`);
    if (box) {
      box.querySelector("img.look")?.remove();
      box.append(lookImage(url, title));
    }
    if (res.headers.get("x-tandem-returned") !== "true") toast("The camera stays where it is now: someone took control of it", "warn");
  } catch (e) { fail(e); }
}

/**
 * What repairing mismatch `m` from site `from` does, in the operator's words,
 * and whether it deletes a preset.
 */
function repairEffect(m, from) {
  const to = from === "primary" ? "secondary" : "primary";
  const src = m[from];
  const dst = m[to];
  if (!dst) return { label: `Copy “${src.name}” to the ${to}`, danger: false };
  if (!src) return { label: `Delete “${dst.name}” from the ${to}`, danger: true };
  switch (m.kind) {
    case "name_differs": return { label: `Rename to “${src.name}” on the ${to}`, danger: false };
    case "number_differs": return { label: `Renumber “${dst.name}” ${dst.number ?? "?"} → ${src.number ?? "?"} on the ${to}`, danger: false };
    case "position_differs": return { label: `Re-aim “${dst.name}” on the ${to} to the ${from}'s view`, danger: false };
    default: return { label: `Make the ${to} like the ${from}`, danger: false };
  }
}

function renderBanner() {
  const slot = $("#banner-slot");
  const c = app.camera;
  if (!slot) return;
  const allowed = can("mismatch.resolve");
  // Redrawn only when what it shows changed: a live update for another camera
  // must not tear down the rows under the operator's pointer.
  const shown = JSON.stringify([c.mismatches, allowed]);
  if (slot.dataset.shown === shown) return;
  slot.dataset.shown = shown;
  if (!c.mismatches.length) { slot.replaceChildren(); return; }
  // Labelled by effect; a choice that deletes looks dangerous and is never the filled one.
  const choice = (from, keys, label, danger = false) => h("button", {
    type: "button", class: danger ? "danger-ghost small" : from === "primary" ? "small" : "ghost small", disabled: !allowed,
    title: allowed ? "" : "Your role does not allow resolving mismatches",
    "data-repair": from, "data-keys": keys ? keys.join(",") : "all", "data-danger": String(danger),
    onclick: () => repair(from, keys),
  }, label);
  const effect = (m, from) => {
    const e = repairEffect(m, from);
    return choice(from, [m.key], e.label, e.danger);
  };
  const rows = c.mismatches.map((m) => h("tr", { "data-mismatch": m.key, "data-kind": m.kind },
    h("td", {}, KIND_LABEL[m.kind] || m.kind),
    h("td", {}, h("div", { class: "pair" }, side(m.key, "Primary", m.primary, m.position_unknown), side(m.key, "Secondary", m.secondary, m.position_unknown))),
    h("td", {}, posmap(m.primary, m.secondary)),
    h("td", {}, h("div", { class: "acts col" }, effect(m, "primary"), effect(m, "secondary")))));
  slot.replaceChildren(h("section", { class: "panel banner", id: "mismatches", role: "region", "aria-labelledby": "mm-title" },
    h("header", {},
      h("h2", { id: "mm-title" }, `${c.mismatches.length} mismatch${c.mismatches.length > 1 ? "es" : ""} between the sites`),
      h("span", { class: "muted" }, "Choose which site is right; the plan is shown before anything changes."),
      h("div", { class: "acts push" },
        choice("primary", null, "Make the secondary match the primary"),
        choice("secondary", null, "Make the primary match the secondary"))),
    h("div", { class: "scroll" }, h("table", {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "What"), h("th", { scope: "col" }, "Values"), h("th", { scope: "col" }, "Pan/tilt map"), h("th", { scope: "col" }, "Resolve"))),
      h("tbody", {}, rows)))));
}

/** The lowest number no preset uses on either site: what "next free" will be. */
function nextFree() {
  const c = app.camera;
  const used = new Set(c.presets.map((p) => p.number));
  for (const m of c.mismatches) for (const side of [m.primary, m.secondary]) if (side && side.number) used.add(side.number);
  let n = 1;
  while (used.has(n)) n++;
  return n;
}

/** The target site's preset a change replaces, from the open mismatches. */
function targetBefore(ch, target) {
  const number = ch.from_number ?? ch.number;
  const m = app.camera.mismatches.find((x) => x[target] && ((number && x[target].number === number) || (ch.token && x[target].token === ch.token)));
  return m ? m[target] : null;
}

/** One change of a plan as a list item: what it is before → after. */
function describeChange(ch, target) {
  const where = `on the ${target}`;
  const before = targetBefore(ch, target);
  const diff = (label, a, b) => (a === b ? null : h("div", { class: "mono small" }, `${label}: ${a} → ${b}`));
  switch (ch.action) {
    case "add":
      return h("li", { "data-action": "add" }, `Add ${ch.number ?? `${nextFree()} (the next free number)`} “${ch.name}” ${where}`,
        ch.position ? h("div", { class: "mono small" }, pos(ch.position)) : null);
    case "update": {
      const number = ch.from_number && ch.from_number !== ch.number ? `${ch.from_number} → ${ch.number}` : ch.number;
      return h("li", { "data-action": "update" }, `Change ${number} ${where}`,
        before ? diff("name", `“${before.name}”`, `“${ch.name}”`) : h("div", { class: "small" }, `to “${ch.name}”`),
        ch.position ? (before && before.position ? diff("position", pos(before.position), pos(ch.position)) : h("div", { class: "mono small" }, `at ${pos(ch.position)}`)) : null);
    }
    case "delete": {
      const number = ch.number ?? (before && before.number);
      const name = ch.name ?? (before && before.name);
      return h("li", { "data-action": "delete", class: "danger-text" },
        `Delete ${number ? `${number} ` : ""}${name ? `“${name}” ` : "a preset "}${where}`,
        before && before.position ? h("div", { class: "mono small" }, pos(before.position)) : null);
    }
    default: return h("li", {}, `${ch.action} ${where}`);
  }
}

async function repair(from, keys) {
  const c = app.camera;
  const target = from === "primary" ? "secondary" : "primary";
  const path = `/api/v1/cameras/${encodeURIComponent(c.id)}/repair`;
  const body = { from };
  if (keys) body.mismatches = keys;
  try {
    const plan = (await api("POST", path, { ...body, dry_run: true })).data;
    const deletes = plan.changes.filter((ch) => ch.action === "delete").length;
    const okLabel = deletes === plan.changes.length && deletes
      ? `Delete ${deletes} preset${deletes > 1 ? "s" : ""}`
      : `Apply ${plan.changes.length} change${plan.changes.length === 1 ? "" : "s"}`;
    const ok = await ask(`Make the ${target} match the ${from}`, (el) => {
      if (!plan.changes.length) { el.append(h("p", {}, "Nothing to change.")); return; }
      put(el, h("p", {}, `These changes will be made on the ${target}; the ${from} stays as it is:`),
        h("ul", { class: "plan", id: "plan" }, plan.changes.map((ch) => describeChange(ch, target))),
        deletes ? h("p", { class: "danger-text" }, `${deletes} preset${deletes > 1 ? "s" : ""} will be deleted from the ${target}: keyboards that recall ${deletes > 1 ? "them" : "it"} there will find nothing.`) : null,
        plan.moves_camera ? movesNote(`the ${target}`) : null);
    }, okLabel, deletes > 0);
    if (!ok || !plan.changes.length) return;
    const done = (await api("POST", path, body)).data;
    const msg = `Repaired ${done.changes.length} change${done.changes.length === 1 ? "" : "s"}; ${done.remaining ?? 0} mismatch${done.remaining === 1 ? "" : "es"} left`;
    toast(done.skipped.length ? `${msg}; skipped: ${done.skipped.join("; ")}` : msg, done.skipped.length ? "warn" : "ok");
    await reloadCamera();
    loadCameras().catch(fail);
  } catch (e) { fail(e); }
}

// ---------------------------------------------------------------- audit

/** An entry's before and after as the fields that changed: "name: “A” → “B”". */
function auditDiff(before, after) {
  const show = (v) => (v === undefined || v === null ? "—" : typeof v === "string" ? `“${v}”` : typeof v === "object" ? (v.pan !== undefined ? pos(v) : JSON.stringify(v)) : String(v));
  const isObj = (v) => v && typeof v === "object" && !Array.isArray(v);
  const preset = (p) => `${p.number ?? ""} “${p.name}”${p.position ? ` at ${pos(p.position)}` : ""}`.trim();
  // A preset made, imported or removed reads as one line, not as each field appearing or going.
  if (isObj(after) && Array.isArray(after.presets) && !before) {
    const names = after.presets.map((p) => `${p.number} “${p.name}”`);
    return [`${names.length} preset${names.length === 1 ? "" : "s"}: ${names.slice(0, 8).join(", ")}${names.length > 8 ? ", …" : ""}`];
  }
  if (isObj(after) && after.name !== undefined && !before) return [`added ${preset(after)}`];
  if (isObj(before) && before.name !== undefined && !after) return [`removed ${preset(before)}`];
  if (!isObj(before) && !isObj(after)) {
    if (before === undefined || before === null) return after === undefined || after === null ? [] : [show(after)];
    return [`${show(before)} → ${show(after)}`];
  }
  const b = isObj(before) ? before : {};
  const a = isObj(after) ? after : {};
  const lines = [];
  for (const k of [...new Set([...Object.keys(b), ...Object.keys(a)])]) {
    if (JSON.stringify(b[k]) === JSON.stringify(a[k])) continue;
    if (!(k in b)) lines.push(`${k}: ${show(a[k])}`);
    else if (!(k in a)) lines.push(`${k}: ${show(b[k])} → removed`);
    else lines.push(`${k}: ${show(b[k])} → ${show(a[k])}`);
  }
  return lines;
}

/**
 * Groups a page of entries, newest first: a scan writes one entry per camera
 * it compared, and consecutive ones (same scan, by "tandem") become one line
 * that opens to show them.
 */
function groupAudit(entries) {
  const groups = [];
  for (const e of entries) {
    const last = groups[groups.length - 1];
    const close = last && last.scan && e.action === "scan" && e.actor === last.entries[0].actor
      && Math.abs(Date.parse(last.entries[last.entries.length - 1].at_utc) - Date.parse(e.at_utc)) < 60000;
    if (close) last.entries.push(e);
    else groups.push({ scan: e.action === "scan", entries: [e] });
  }
  return groups;
}

const AUDIT_PAGE_SIZE = 50;

function renderAudit() {
  if (!can("admin")) {
    $("#main").replaceChildren(h("div", { class: "page" }, h("section", { class: "panel" }, h("h1", {}, "Audit log"),
      h("p", {}, "Reading the audit log needs the admin permission."))));
    return;
  }
  const form = h("form", { class: "row", id: "audit-filter", "aria-label": "Filter the audit log" },
    ...[["actor", "User"], ["action", "Action (prefix)"]].map(([name, label]) =>
      h("div", {}, h("label", { for: `audit-${name}` }, label),
        h("input", { id: `audit-${name}`, name, type: "text" }))),
    h("button", { type: "submit" }, "Show"),
    h("a", { class: "button ghost", id: "export-csv", download: "tandem-audit.csv" }, "Export CSV"),
    h("a", { class: "button ghost", id: "export-json", download: "tandem-audit.json" }, "Export JSON"),
    h("button", { type: "button", class: "ghost", onclick: verifyAudit }, "Verify chain"));
  const result = h("p", { id: "audit-verify", class: "muted", role: "status" });
  const rows = h("tbody", { id: "audit-rows" });
  const newer = h("button", { type: "button", class: "ghost", id: "audit-newer" }, "← Newer");
  const older = h("button", { type: "button", class: "ghost", id: "audit-older" }, "Older →");
  const where = h("span", { class: "muted", id: "audit-where" });
  $("#main").replaceChildren(h("div", { class: "page" },
    h("section", { class: "panel" }, h("h1", {}, "Audit log"),
      h("p", { class: "muted" }, "Every change, repair, login and failover, newest first, in a hash chain that shows tampering."), form, result),
    h("section", { class: "panel audit" },
      h("div", { class: "row pager" }, newer, older, where),
      h("div", { class: "scroll" }, h("table", {},
        h("thead", {}, h("tr", {}, ...["No.", "When", "User", "Action", "Camera", "What changed"].map((t) => h("th", { scope: "col" }, t)))),
        rows)))));
  // Pages are read newest first: `before` the oldest seen goes further back,
  // `after` the newest seen comes forward (then shown newest first again).
  const filters = () => {
    const q = new URLSearchParams();
    for (const name of ["actor", "action"]) if (form[name].value.trim()) q.set(name, form[name].value.trim());
    return q;
  };
  const exportLink = (format) => { const q = filters(); q.set("format", format); q.set("limit", "1000"); return `/api/v1/audit?${q}`; };
  let page = [];
  const load = async (dir) => {
    $("#export-csv").href = exportLink("csv");
    $("#export-json").href = exportLink("json");
    const q = filters();
    q.set("limit", String(AUDIT_PAGE_SIZE + 1));
    if (dir === "older" && page.length) q.set("before", String(page[page.length - 1].seq));
    else if (dir === "newer" && page.length) { q.set("after", String(page[0].seq)); q.set("order", "oldest"); }
    else q.set("order", "newest");
    try {
      let entries = (await api("GET", `/api/v1/audit?${q}`)).data;
      let more;
      if (dir === "newer") {
        more = entries.length > AUDIT_PAGE_SIZE;
        entries = entries.slice(0, AUDIT_PAGE_SIZE).reverse();
        if (!entries.length) { newer.disabled = true; return; }
        older.disabled = false;
        newer.disabled = !more;
      } else {
        more = entries.length > AUDIT_PAGE_SIZE;
        entries = entries.slice(0, AUDIT_PAGE_SIZE);
        older.disabled = !more;
        newer.disabled = dir !== "older";
      }
      page = entries;
      where.textContent = entries.length ? `entries ${entries[entries.length - 1].seq}–${entries[0].seq}` : "";
      rows.replaceChildren(...groupAudit(entries).map((g) => auditRow(g)));
      if (!entries.length) rows.append(h("tr", {}, h("td", { colspan: "6", class: "muted" }, "No entries match.")));
    } catch (e) { fail(e); }
  };
  newer.addEventListener("click", () => load("newer"));
  older.addEventListener("click", () => load("older"));
  form.addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
  load();
}

/** One line of the audit table: an entry, or a scan's entries folded into one. */
function auditRow(g) {
  const e = g.entries[0];
  const when = new Date(e.at_utc);
  const at = h("td", { class: "mono", title: e.at_utc }, `${when.toLocaleDateString()} ${when.toLocaleTimeString()}`);
  if (g.scan && g.entries.length > 1) {
    const cameras = g.entries.map((x) => x.camera).filter(Boolean);
    return h("tr", { "data-action": "scan", "data-entries": String(g.entries.length) },
      h("td", { class: "num" }, `${g.entries[g.entries.length - 1].seq}–${e.seq}`), at, h("td", {}, e.actor), h("td", {}, "scan"),
      h("td", {}, `${cameras.length} cameras`),
      h("td", {}, h("details", {}, h("summary", {}, `One scan: ${g.entries.length} entries`),
        h("ul", { class: "diff" }, g.entries.map((x) => h("li", {}, `${x.camera || ""}: ${auditDiff(x.before, x.after).join("; ") || "compared"}`))))));
  }
  const lines = auditDiff(e.before, e.after);
  return h("tr", { "data-action": e.action },
    h("td", { class: "num" }, e.seq), at, h("td", {}, e.actor), h("td", {}, e.action), h("td", {}, e.camera || ""),
    h("td", {}, lines.length ? h("ul", { class: "diff" }, lines.map((l) => h("li", { class: "mono" }, l))) : h("span", { class: "muted" }, "—")));
}

async function verifyAudit() {
  try {
    const v = (await api("GET", "/api/v1/audit/verify")).data;
    $("#audit-verify").textContent = v.intact
      ? `Chain intact: ${v.entries} entries; head ${v.head || "—"} (keep it elsewhere to detect a cut tail).`
      : `Chain broken at ${v.first_bad}.`;
  } catch (e) { fail(e); }
}

// ---------------------------------------------------------------- admin

async function renderAdmin() {
  let users = [];
  let roles = [];
  try {
    [users, roles] = await Promise.all([api("GET", "/api/v1/users"), api("GET", "/api/v1/roles")]).then((r) => r.map((x) => x.data));
  } catch (e) { fail(e); return; }
  const roleBoxes = (chosen, prefix) => h("div", { class: "grants", role: "group", "aria-label": "Roles" },
    roles.map((r) => h("label", {}, h("input", { type: "checkbox", name: `${prefix}-role`, value: r.name, checked: chosen.includes(r.name) }), r.name)));
  const picked = (root, name) => [...root.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);

  const userRows = users.map((u) => h("tr", { "data-user": u.name },
    h("td", {}, u.name), h("td", {}, u.roles.join(", ") || h("span", { class: "muted" }, "none")),
    h("td", {}, u.disabled ? "disabled" : "active"),
    h("td", {}, h("div", { class: "acts" },
      h("button", { type: "button", class: "ghost small", onclick: () => editUserRoles(u), "aria-label": `Change roles of ${u.name}` }, "Roles"),
      u.name === app.me.user ? null : h("button", { type: "button", class: "ghost small", onclick: () => deleteUser(u), "aria-label": `Delete ${u.name}` }, "Delete")))));
  const newUser = h("form", { id: "new-user", "aria-label": "New user" },
    h("h3", {}, "New user"),
    h("div", { class: "row" },
      h("div", {}, h("label", { for: "nu-name" }, "User name"), h("input", { id: "nu-name", name: "name", required: true, autocomplete: "off" })),
      h("div", {}, h("label", { for: "nu-password" }, "Password (12 characters or more)"), h("input", { id: "nu-password", name: "password", type: "password", required: true, minlength: "12", autocomplete: "new-password" }))),
    roleBoxes([], "nu"),
    h("button", { type: "submit", class: "mt" }, "Create user"));
  newUser.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("POST", "/api/v1/users", { name: newUser.name.value.trim(), password: newUser.password.value, roles: picked(newUser, "nu-role") });
      toast(`User ${newUser.name.value} created`, "ok");
      renderAdmin();
    } catch (e) { fail(e); }
  });

  const roleRows = roles.map((r) => h("tr", { "data-role": r.name },
    h("td", {}, r.name), h("td", { class: "num" }, r.ptz_priority),
    h("td", {}, r.grants.map((g) => h("span", { class: "chip", title: g.permission }, `${PERMISSION_LABEL[g.permission] || g.permission}${g.group ? ` (group ${g.group})` : ""}`))),
    h("td", {}, h("div", { class: "acts" },
      h("button", { type: "button", class: "ghost small", onclick: () => editRole(r), "aria-label": `Edit role ${r.name}` }, "Edit"),
      h("button", { type: "button", class: "ghost small", onclick: () => deleteRole(r), "aria-label": `Delete role ${r.name}` }, "Delete")))));

  $("#main").replaceChildren(h("div", { class: "page" },
    h("section", { class: "panel", "aria-labelledby": "users-title" }, h("h1", { id: "users-title" }, "Users"),
      h("div", { class: "scroll" }, h("table", {}, h("thead", {}, h("tr", {}, ...["Name", "Roles", "State", ""].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, userRows))),
      newUser),
    h("section", { class: "panel", "aria-labelledby": "roles-title" }, h("h1", { id: "roles-title" }, "Roles, permissions and PTZ priorities"),
      h("p", { class: "muted" }, "A higher PTZ priority takes over live control from a lower one at once; equal or lower waits until the holder stops."),
      h("div", { class: "scroll" }, h("table", {}, h("thead", {}, h("tr", {}, ...["Role", "PTZ priority", "Permissions", ""].map((t) => h("th", { scope: "col" }, t)))), h("tbody", {}, roleRows))),
      h("button", { type: "button", id: "new-role", onclick: () => editRole(null) }, "New role"))));

  async function editUserRoles(u) {
    const chosen = await ask(`Roles of ${u.name}`, (body) => {
      const boxes = roleBoxes(u.roles, "ur");
      body.append(boxes);
      return () => picked(boxes, "ur-role");
    }, "Save");
    if (!chosen) return;
    try {
      await api("PUT", `/api/v1/users/${encodeURIComponent(u.name)}/roles`, { roles: chosen });
      toast(`Roles of ${u.name} saved`, "ok");
      renderAdmin();
    } catch (e) { fail(e); }
  }

  async function deleteUser(u) {
    if (!(await ask(`Delete user ${u.name}?`, (b) => b.append(h("p", {}, "Their sessions and API tokens stop working at once.")), "Delete", true))) return;
    try { await api("DELETE", `/api/v1/users/${encodeURIComponent(u.name)}`); renderAdmin(); } catch (e) { fail(e); }
  }

  async function editRole(r) {
    const result = await ask(r ? `Role ${r.name}` : "New role", (body) => {
      const [nameField, name] = input("Name", { value: r ? r.name : "", required: true, readonly: !!r });
      const [prioField, prio] = input("PTZ priority (1 to 32000)", { type: "number", min: "1", max: "32000", value: r ? r.ptz_priority : 1000 });
      const group = r && r.grants.find((g) => g.group);
      const [groupField, groupEl] = input("Only on camera group (empty: every camera)", { value: group ? group.group : "" });
      const perms = h("div", { class: "grants", role: "group", "aria-label": "Permissions" },
        PERMISSIONS.map((p) => h("label", {}, h("input", { type: "checkbox", name: "perm", value: p, checked: !!r && r.grants.some((g) => g.permission === p) }),
          h("span", {}, PERMISSION_LABEL[p] || p, h("span", { class: "muted mono small" }, ` ${p}`)))));
      body.append(nameField, prioField, h("label", {}, "Permissions"), perms, groupField);
      return () => ({
        name: name.value.trim(),
        ptz_priority: Number(prio.value),
        grants: picked(perms, "perm").map((permission) => ({ permission, group: groupEl.value.trim() || null })),
      });
    }, "Save");
    if (!result) return;
    try {
      await api("PUT", `/api/v1/roles/${encodeURIComponent(result.name)}`, result);
      toast(`Role ${result.name} saved`, "ok");
      renderAdmin();
    } catch (e) { fail(e); }
  }

  async function deleteRole(r) {
    if (!(await ask(`Delete role ${r.name}?`, (b) => b.append(h("p", {}, "Users keep their other roles.")), "Delete", true))) return;
    try { await api("DELETE", `/api/v1/roles/${encodeURIComponent(r.name)}`); renderAdmin(); } catch (e) { fail(e); }
  }
}

// ---------------------------------------------------------------- wiring

window.addEventListener("hashchange", route);
document.addEventListener("keydown", onKey);
document.addEventListener("keyup", onKey);
document.addEventListener("pointerdown", closeMenus);
window.addEventListener("gamepadconnected", () => gamepad.start());
window.addEventListener("blur", () => { keys.held.clear(); ptz.halt(); });
document.addEventListener("visibilitychange", () => { if (document.hidden) { keys.held.clear(); ptz.halt(); } });
document.addEventListener("DOMContentLoaded", () => {
  $("#logout").addEventListener("click", async () => {
    showLogin("Logged out.");
    try { await api("POST", "/api/v1/logout"); } catch { /* logged out either way */ }
  });
  start();
});
