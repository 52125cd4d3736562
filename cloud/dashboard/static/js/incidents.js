// The incidents panel: a live list filtered by department, severity and state, and the selected
// incident with its actions (acknowledge, assign, comment, resolve) and its audit trail.

import { auth, get, getAll, post } from "./api.js";
import { $, ago, clock, h, number, shortId } from "./dom.js";
import { showError } from "./notice.js";
import { on, state } from "./store.js";

const SEVERITY = { critical: "▲", warning: "◆", info: "●" }; // glyphs: severity is never colour alone
const STATE = { open: "○", acknowledged: "◐", resolved: "●" };

let selected = null; // id of the incident shown in the detail panel
let shownVersion = null; // its updated_at when drawn: redraw only when it changed
let busy = false;

function entityName(id) {
  const e = state.entities.get(id);
  return e ? e.name || shortId(id) : shortId(id);
}

function departmentName(id) {
  if (!id) return "unrouted";
  const d = state.entities.get(id);
  return d ? d.name || shortId(id) : shortId(id);
}

const badge = (kind, value, glyphs) =>
  h("span", { class: `badge-${kind} ${kind}-${value}` }, h("span", { "aria-hidden": "true" }, `${glyphs[value] || ""} `), value);

function filters() {
  const form = $("#incident-filters");
  return { department: form.department.value, severity: form.severity.value, state: form.state.value };
}

async function fetchList(f) {
  const params = f.department ? { department: f.department } : {};
  let items;
  if (f.state === "active") {
    const [open, acknowledged] = await Promise.all([
      getAll("/api/v1/incidents", { ...params, state: "open" }),
      getAll("/api/v1/incidents", { ...params, state: "acknowledged" }),
    ]);
    items = open.concat(acknowledged).sort((a, b) => b.updated_at - a.updated_at);
  } else {
    const query = new URLSearchParams({ ...params, ...(f.state ? { state: f.state } : {}), limit: 500 });
    items = (await get(`/api/v1/incidents?${query}`)).items;
  }
  // The API filters by state and department; severity is filtered here.
  return f.severity ? items.filter((i) => i.severity === f.severity) : items;
}

function row(incident) {
  const open = () => (location.hash = `#/incidents/${incident.id}`);
  return h(
    "tr",
    { dataset: { incidentId: incident.id, state: incident.state }, class: incident.id === selected ? "selected" : "", onclick: open },
    h("td", {}, badge("severity", incident.severity, SEVERITY)),
    h("td", {}, badge("state", incident.state, STATE)),
    h("td", {}, h("button", { type: "button", class: "link", onclick: (event) => { event.stopPropagation(); open(); } }, entityName(incident.entity))),
    h("td", {}, incident.cause),
    h("td", {}, departmentName(incident.department)),
    h("td", { class: "num" }, incident.alerts),
    h("td", { title: clock(incident.last_alert_at) }, ago(incident.last_alert_at)),
  );
}

/** Redraw the list (and the selected incident if it changed). */
export async function refreshIncidents() {
  if (busy) return;
  busy = true;
  try {
    const items = await fetchList(filters());
    $("#incident-table tbody").replaceChildren(...items.map(row));
    $("#incident-empty").hidden = items.length > 0;
    if (selected !== null) await showIncident(selected, false);
  } catch (error) {
    showError(error);
  } finally {
    busy = false;
  }
}

function departmentOptions() {
  const select = $("#incident-filters").department;
  const current = select.value;
  const departments = [...state.entities.values()].filter((e) => e.type === "Department");
  select.replaceChildren(
    h("option", { value: "" }, "all"),
    ...departments.map((d) => h("option", { value: d.id, selected: d.id === current }, d.name || shortId(d.id))),
  );
}

function updateCount() {
  const count = state.active.length;
  const badgeEl = $("#incident-count");
  badgeEl.textContent = count ? String(count) : "";
  badgeEl.hidden = count === 0;
}

async function act(id, action, body) {
  try {
    await post(`/api/v1/incidents/${id}/${action}`, { by: auth.name(), ...body });
    shownVersion = null; // force a redraw of the detail
    await refreshIncidents();
  } catch (error) {
    showError(error);
  }
}

function actions(incident) {
  const resolved = incident.state === "resolved";
  const assignee = h("input", { name: "assignee", required: true, maxlength: 100, placeholder: "who", "aria-label": "Assignee" });
  const comment = h("textarea", { name: "text", required: true, maxlength: 2000, rows: 2, placeholder: "comment", "aria-label": "Comment" });
  return h(
    "div",
    { class: "actions" },
    h("div", { class: "row" },
      h("button", { type: "button", "data-action": "acknowledge", disabled: incident.state !== "open", onclick: () => act(incident.id, "acknowledge", {}) }, "Acknowledge"),
      h("button", { type: "button", "data-action": "resolve", disabled: resolved, onclick: () => act(incident.id, "resolve", {}) }, "Resolve"),
    ),
    h("form", { class: "row", "data-action": "assign", onsubmit: (event) => { event.preventDefault(); act(incident.id, "assign", { assignee: assignee.value.trim() }); } },
      assignee, h("button", { type: "submit", disabled: resolved }, "Assign")),
    h("form", { class: "row", "data-action": "comment", onsubmit: (event) => { event.preventDefault(); act(incident.id, "comments", { text: comment.value.trim() }); } },
      comment, h("button", { type: "submit" }, "Comment")),
  );
}

function trail(events) {
  return h(
    "ol",
    { class: "trail", "aria-label": "Audit trail" },
    events.map((e) =>
      h("li", { dataset: { action: e.action } }, h("time", { datetime: new Date(e.at * 1000).toISOString() }, clock(e.at)), " ", h("strong", {}, e.actor), ` ${e.action}`, e.detail ? `: ${e.detail}` : ""),
    ),
  );
}

/** Show one incident in the detail panel (focus moves there when the operator chose it). */
export async function showIncident(id, focus = true) {
  selected = id;
  const panel = $("#incident-detail");
  let incident;
  try {
    incident = await get(`/api/v1/incidents/${id}`);
  } catch (error) {
    panel.hidden = false;
    panel.replaceChildren(h("p", { class: "error" }, error.message));
    return;
  }
  for (const tr of document.querySelectorAll("#incident-table tbody tr")) tr.classList.toggle("selected", tr.dataset.incidentId === String(id));
  if (!focus && shownVersion === `${id}:${incident.updated_at}`) return; // unchanged: keep what is typed
  shownVersion = `${id}:${incident.updated_at}`;
  const heading = h("h2", { tabindex: "-1" }, `Incident ${incident.id}`);
  panel.hidden = false;
  panel.dataset.state = incident.state;
  panel.replaceChildren(
    h("div", { class: "card-head" }, heading, badge("state", incident.state, STATE)),
    h("dl", { class: "facts" },
      h("dt", {}, "Entity"), h("dd", {}, h("a", { href: `#/entity/${encodeURIComponent(incident.entity)}` }, entityName(incident.entity))),
      h("dt", {}, "Cause"), h("dd", {}, incident.cause),
      h("dt", {}, "Severity"), h("dd", {}, badge("severity", incident.severity, SEVERITY)),
      h("dt", {}, "Department"), h("dd", {}, departmentName(incident.department)),
      h("dt", {}, "Assignee"), h("dd", {}, incident.assignee || "–"),
      h("dt", {}, "Alerts"), h("dd", {}, `${incident.alerts}, last value ${number(incident.last_value)}`),
      h("dt", {}, "First / last"), h("dd", {}, `${clock(incident.first_alert_at)} / ${ago(incident.last_alert_at)}`),
    ),
    actions(incident),
    h("h3", {}, "Audit trail"),
    trail(incident.events || []),
  );
  if (focus) heading.focus();
}

export function initIncidents() {
  $("#incident-filters").addEventListener("change", () => refreshIncidents());
  on("entities", departmentOptions);
  on("incidents", updateCount);
  updateCount();
}
