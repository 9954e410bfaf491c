// vaultlet operator page: everything comes from the /v1/ API with the operator's token,
// so the page shows exactly what that token's policies allow. API strings are only ever
// put into the page as text (textContent / text nodes), never parsed as HTML.
"use strict";

const TOKEN_KEY = "vaultlet.operator.token";
const CHART_HOURS = 24;
const $ = (id) => document.getElementById(id);

class ApiError extends Error {
  constructor(status, messages) {
    super(messages.join("; ") || `HTTP ${status}`);
    this.status = status;
  }
}

// -- the API -----------------------------------------------------------------

function encodePath(path) {
  return path.split("/").map(encodeURIComponent).join("/");
}

// One API call; ``query`` is a fixed query string (never data). Throws ApiError on a non-2xx.
async function api(method, path, body, query = "") {
  const headers = { "X-Vault-Token": sessionStorage.getItem(TOKEN_KEY) || "" };
  const init = { method, headers, cache: "no-store", credentials: "omit", redirect: "error" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch("/v1/" + encodePath(path) + query, init);
  if (response.status === 204) return null;
  const payload = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, (payload && payload.errors) || []);
  return payload;
}

// LIST as Vault's CLI sends it (GET with ?list=true). Nothing to list is a 404: empty.
async function listKeys(path) {
  try {
    const answer = await api("GET", path.replace(/\/?$/, "/"), undefined, "?list=true");
    return (answer && answer.data && answer.data.keys) || [];
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return [];
    throw error;
  }
}

// -- building the page safely --------------------------------------------------

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attributes, text) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function show(container, ...nodes) {
  container.replaceChildren(...nodes);
}

function problem(error) {
  if (error instanceof ApiError && error.status === 403) {
    return el("div", { class: "denied" }, "permission denied");
  }
  return el("div", { class: "denied" }, "error: " + error.message);
}

function table(headings, rows) {
  const head = el("tr", {}, ...headings.map(([label, cls]) => el("th", cls ? { class: cls } : {}, label)));
  return el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows));
}

function formatTime(text) {
  if (!text) return "–";
  const when = new Date(text);
  if (Number.isNaN(when.getTime())) return text;
  const pad = (n) => String(n).padStart(2, "0");
  return `${when.getFullYear()}-${pad(when.getMonth() + 1)}-${pad(when.getDate())} ` +
    `${pad(when.getHours())}:${pad(when.getMinutes())}:${pad(when.getSeconds())}`;
}

function formatTtl(seconds) {
  if (!seconds) return "0s";
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  return (h ? `${h}h` : "") + (m ? `${m}m` : "") + (!h && s ? `${s}s` : "") || "0s";
}

// -- confirmation --------------------------------------------------------------

function confirmRevoke(title, text, target) {
  const dialog = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-target").textContent = target;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

async function revokeLease(leaseId) {
  if (!(await confirmRevoke("Revoke lease", "Revoke this lease now? Its credentials stop working.", leaseId))) return;
  await runAction(() => api("PUT", "sys/leases/revoke", { lease_id: leaseId }));
}

async function revokePrefix(prefix) {
  const ok = await confirmRevoke("Revoke every lease under a prefix",
    "Revoke every lease under this prefix now? All of their credentials stop working.", prefix);
  if (!ok) return;
  await runAction(() => api("PUT", "sys/leases/revoke-prefix/" + prefix, {}));
}

async function runAction(action) {
  try {
    await action();
  } catch (error) {
    window.alert(error instanceof ApiError && error.status === 403 ? "permission denied" : error.message);
  }
  await refresh();
}

// -- sections ------------------------------------------------------------------

async function loadMounts() {
  const answer = await api("GET", "sys/mounts");
  const mounts = Object.entries(answer.data || {}).sort(([a], [b]) => a.localeCompare(b));
  const rows = [];
  const awsRoles = [];
  for (const [path, mount] of mounts) {
    let roles = "";
    if (mount.type === "aws") {
      try {
        const names = await listKeys(path + "roles");
        awsRoles.push({ mount: path, roles: names });
        roles = names.length ? names.join(", ") : "none";
      } catch (error) {
        awsRoles.push({ mount: path, roles: null, error });
        roles = error instanceof ApiError && error.status === 403 ? "permission denied" : error.message;
      }
    }
    rows.push(el("tr", {}, el("td", { class: "mono" }, path), el("td", {}, mount.type),
      el("td", {}, mount.description || ""), el("td", { class: "mono" }, roles)));
  }
  $("mount-count").textContent = String(mounts.length);
  show($("mounts"), table([["Path"], ["Type"], ["Description"], ["Roles"]], rows));
  return awsRoles;
}

async function leasesUnder(prefix) {
  const keys = await listKeys("sys/leases/lookup/" + prefix);
  const ids = keys.filter((key) => !key.endsWith("/")).map((key) => prefix + key);
  return Promise.all(ids.map(async (id) => {
    const answer = await api("PUT", "sys/leases/lookup", { lease_id: id });
    return answer.data;
  }));
}

async function loadLeases(awsRoles) {
  const container = $("leases");
  const blocks = [];
  const all = [];
  for (const { mount, roles, error } of awsRoles) {
    if (roles === null) {
      blocks.push(el("h3", {}, mount), problem(error));
      continue;
    }
    for (const role of roles) {
      for (const kind of ["creds", "sts"]) {
        const prefix = `${mount}${kind}/${role}/`;
        let leases;
        try {
          leases = await leasesUnder(prefix);
        } catch (failure) {
          blocks.push(el("div", { class: "role" }, el("h3", {}, prefix), problem(failure)));
          continue;
        }
        if (kind === "sts" && leases.length === 0) continue;
        all.push(...leases);
        blocks.push(roleBlock(prefix, leases));
      }
    }
  }
  if (!awsRoles.length) blocks.push(el("p", { class: "empty" }, "No AWS secrets engine is mounted."));
  show(container, ...blocks);
  drawChart(all);
}

function roleBlock(prefix, leases) {
  const sorted = leases.slice().sort((a, b) => (a.expire_time || "").localeCompare(b.expire_time || ""));
  const rows = sorted.map((lease) => el("tr", { "data-lease-id": lease.id },
    el("td", { class: "mono" }, lease.id),
    el("td", {}, formatTime(lease.issue_time)),
    el("td", {}, formatTime(lease.expire_time)),
    el("td", { class: "num" }, formatTtl(lease.ttl)),
    el("td", { class: "num" }, el("button", {
      type: "button", class: "link-danger", "data-action": "revoke", onclick: () => revokeLease(lease.id),
    }, "Revoke"))));
  const head = el("div", { class: "role-head" },
    el("h3", {}, el("span", { class: "mono" }, prefix), el("span", { class: "badge" }, `${leases.length} active`)),
    leases.length ? el("button", {
      type: "button", class: "link-danger", "data-action": "revoke-prefix", onclick: () => revokePrefix(prefix),
    }, "Revoke all") : null);
  const body = leases.length
    ? table([["Lease"], ["Issued"], ["Expires"], ["TTL", "num"], ["", "num"]], rows)
    : el("p", { class: "empty" }, "No active leases.");
  return el("div", { class: "role", "data-prefix": prefix }, head, body);
}

function drawChart(leases) {
  const now = Date.now();
  const bins = new Array(CHART_HOURS).fill(0);
  let later = 0;
  for (const lease of leases) {
    const expires = Date.parse(lease.expire_time);
    if (Number.isNaN(expires)) continue;
    const hour = Math.floor(Math.max(0, expires - now) / 3600000);
    if (hour < CHART_HOURS) bins[hour] += 1;
    else later += 1;
  }
  const values = [...bins, later];
  const width = 960, height = 220, left = 34, bottom = 28, top = 16;
  const slot = (width - left) / values.length;
  const peak = Math.max(1, ...values);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": "Leases expiring per hour over the next 24 hours" });
  chart.append(svg("line", { class: "axis", x1: left, y1: height - bottom, x2: width, y2: height - bottom }));
  chart.append(svg("text", { x: 0, y: top + 4 }, peak));
  chart.append(svg("text", { x: 0, y: height - bottom }, 0));
  values.forEach((value, index) => {
    const barHeight = ((height - bottom - top) * value) / peak;
    const x = left + index * slot + 3;
    const y = height - bottom - barHeight;
    const isLater = index === CHART_HOURS;
    chart.append(svg("rect", { class: isLater ? "bar later" : "bar", x, y, width: slot - 6, height: barHeight }));
    if (value) chart.append(svg("text", { class: "value", x: x + (slot - 6) / 2, y: y - 3, "text-anchor": "middle" }, value));
    if (isLater || index % 3 === 0) {
      chart.append(svg("text", { x: x + (slot - 6) / 2, y: height - 10, "text-anchor": "middle" },
        isLater ? "later" : `+${index}h`));
    }
  });
  show($("chart"), chart);
}

async function loadIrrevocableLeases() {
  const payload = await api("GET", "sys/leases", undefined, "?type=irrevocable");
  const leases = (payload.data && payload.data.leases) || [];
  $("irrevocable-count").textContent = String(leases.length);
  if (!leases.length) {
    show($("irrevocable"), el("p", { class: "empty" }, "None."));
    return;
  }
  const rows = leases.map((lease) => el("tr", {},
    el("td", { class: "mono" }, lease.lease_id), el("td", {}, lease.error || ""),
    el("td", { class: "num" }, String(lease.attempts ?? "")), el("td", {}, formatTime(lease.next_retry))));
  show($("irrevocable"), table([["Lease"], ["Last error"], ["Attempts", "num"], ["Next retry"]], rows));
}

async function loadAudit() {
  const answer = await api("GET", "sys/audit");
  const devices = Object.entries(answer.data || {});
  $("audit-count").textContent = String(devices.length);
  if (!devices.length) {
    show($("audit"), el("p", { class: "empty" }, "No audit device is enabled."));
    return;
  }
  const rows = devices.map(([path, device]) => el("tr", {},
    el("td", { class: "mono" }, path), el("td", {}, device.type),
    el("td", { class: "mono" }, (device.options && (device.options.file_path || device.options.path)) || ""),
    el("td", {}, device.description || "")));
  show($("audit"), table([["Path"], ["Type"], ["File"], ["Description"]], rows));
}

// Totals seen at the previous load, so each row can say how many are new since then.
const deniedSeen = new Map();

async function loadDenied() {
  const answer = await api("GET", "sys/metrics");
  const counters = ((answer && answer.Counters) || []).filter((c) => c.Name === "vaultlet_requests_denied");
  const rows = counters
    .map((c) => ({ mount: (c.Labels || {}).mount_point || "", operation: (c.Labels || {}).operation || "",
      total: Number(c.Count) || 0 }))
    .sort((a, b) => b.total - a.total || a.mount.localeCompare(b.mount) || a.operation.localeCompare(b.operation));
  if (!rows.length) {
    show($("denied"), el("p", { class: "empty" }, "None since the server started."));
    return;
  }
  const firstLoad = deniedSeen.size === 0;
  const body = rows.map(({ mount, operation, total }) => {
    const key = mount + "\u0000" + operation;
    const recent = firstLoad ? "–" : String(total - (deniedSeen.get(key) || 0));
    deniedSeen.set(key, total);
    return el("tr", { "data-denied": key.replace("\u0000", " ") },
      el("td", { class: "mono" }, mount || "(no mount)"), el("td", {}, operation),
      el("td", { class: "num" }, String(total)), el("td", { class: "num" }, recent));
  });
  show($("denied"), table([["Mount"], ["Operation"], ["Total", "num"], ["Since last refresh", "num"]], body));
}

async function loadCount() {
  const answer = await api("GET", "sys/leases/count");
  $("lease-count").textContent = String(answer.data.lease_count);
}

// A failing section shows its own "permission denied"; the others still load.
async function section(id, load, counterId) {
  try {
    return await load();
  } catch (error) {
    if (id) show($(id), problem(error));
    if (counterId) $(counterId).textContent = "–";
    return null;
  }
}

async function refresh() {
  const awsRoles = await section("mounts", loadMounts, "mount-count");
  if (awsRoles === null) {
    // Without the mount table there is nothing to look leases up under.
    show($("leases"), problem(new ApiError(403, [])));
    show($("chart"), problem(new ApiError(403, [])));
  } else {
    await section("leases", () => loadLeases(awsRoles));
  }
  await Promise.all([
    section("irrevocable", loadIrrevocableLeases, "irrevocable-count"),
    section("audit", loadAudit, "audit-count"),
    section("denied", loadDenied),
    section(null, loadCount, "lease-count"),
  ]);
  document.body.dataset.loaded = String(Date.now());
}

// -- signing in and out ----------------------------------------------------------

async function signIn(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
  try {
    const answer = await api("GET", "auth/token/lookup-self");
    const data = answer.data || {};
    $("identity-name").textContent = `${data.display_name || "token"} · ${(data.policies || []).join(", ")}`;
  } catch (error) {
    sessionStorage.removeItem(TOKEN_KEY);
    $("sign-in-error").textContent = error instanceof ApiError && error.status === 403
      ? "permission denied: the token is not valid" : error.message;
    return;
  }
  $("sign-in-error").textContent = "";
  $("sign-in").hidden = true;
  $("dashboard").hidden = false;
  $("identity").hidden = false;
  await refresh();
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  deniedSeen.clear();
  $("dashboard").hidden = true;
  $("identity").hidden = true;
  $("sign-in").hidden = false;
  $("token").value = "";
}

document.addEventListener("DOMContentLoaded", () => {
  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    $("token").value = "";
    if (token) signIn(token);
  });
  $("sign-out").addEventListener("click", signOut);
  $("refresh").addEventListener("click", refresh);
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) signIn(saved);
});
