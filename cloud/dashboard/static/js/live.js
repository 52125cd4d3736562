// Keeping the page current: the aggregator's server-sent event stream when it has one, polling
// every 5 s when it has none or while the stream is down, and an indicator that says which.
//
// The stream is read with fetch rather than EventSource because EventSource cannot send the
// Authorization header the API key travels in; the reader below parses the same text/event-stream
// format, sends Last-Event-ID on reconnect as EventSource does, and backs off between attempts.

import { headers, refused } from "./api.js";
import { $ } from "./dom.js";

const STREAM = "/api/v1/stream";
const POLL_MS = 5000; // without a live stream
const SAFETY_POLL_MS = 30000; // with one: ages (heartbeats, values) still move between events
const ENTITY_MIN_MS = 10000; // a full entity reload is the costliest refresh: at most this often
const RETRY_DETECT_MS = 60000; // an aggregator without a stream is asked again this often

let refreshers = {}; // topic -> async function
let pollTimer = null;
let lastEventId = null;
let pending = new Set();
let debounce = null;
let patches = {}; // event name -> function(data) that applies it in place; true if it could
let lastEntityLoad = 0;

function indicate(mode, text) {
  const el = $("#live");
  el.dataset.state = mode;
  el.textContent = text;
}

async function run(topics) {
  const now = Date.now();
  const jobs = [];
  for (const topic of topics) {
    if (topic === "entities") {
      if (now - lastEntityLoad < ENTITY_MIN_MS) continue;
      lastEntityLoad = now;
    }
    if (refreshers[topic]) jobs.push(refreshers[topic]());
  }
  await Promise.allSettled(jobs);
}

/**
 * Refresh these topics soon, gathering a burst of events into one round of requests. The first
 * event starts the timer and later ones join it (a steady stream must not postpone it forever).
 */
export function schedule(topics) {
  for (const topic of topics) pending.add(topic);
  if (debounce !== null) return;
  debounce = setTimeout(() => {
    const due = pending;
    pending = new Set();
    debounce = null;
    run(due);
  }, 400);
}

function poll(interval) {
  clearInterval(pollTimer);
  pollTimer = setInterval(() => run(Object.keys(refreshers)), interval);
}

/** Which parts of the page an event touches, from its name and its data's type. */
export function topicsOf(name, data) {
  let kind = name || "";
  try {
    const parsed = JSON.parse(data);
    if (parsed && typeof parsed === "object") kind += ` ${parsed.type || parsed.kind || parsed.topic || ""}`;
  } catch {
    // not JSON: the event name decides
  }
  const topics = [];
  if (/incident|alert/i.test(kind)) topics.push("incidents", "view");
  if (/gateway|fleet|heartbeat/i.test(kind)) topics.push("gateways");
  if (/kpi/i.test(kind)) topics.push("kpis");
  if (/entit|twin|status|reading|summar/i.test(kind)) topics.push("entities");
  return topics.length ? topics : ["incidents", "gateways", "kpis", "view"];
}

function dispatch(block) {
  let name = "";
  let id = null;
  const data = [];
  for (const line of block.split(/\r\n|\r|\n/)) {
    if (!line || line.startsWith(":")) continue; // comments keep the connection alive
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
    else if (field === "id") id = value;
  }
  if (id !== null) lastEventId = id;
  if (!data.length) return;
  const text = data.join("\n");
  if (name === "resync") {
    schedule(Object.keys(refreshers)); // events were lost: read everything again
    return;
  }
  let parsed = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: refresh by the event's name
  }
  // A twin change carries the new values: applying it beats reloading every entity.
  if (parsed !== null && patches[name] && patches[name](parsed)) schedule(["redraw"]);
  else schedule(topicsOf(name, text));
}

async function read(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const blocks = buffer.split(/\r\n\r\n|\n\n|\r\r/);
    buffer = blocks.pop();
    for (const block of blocks) dispatch(block);
  }
}

async function connect(attempt = 0) {
  let response;
  try {
    const extra = { Accept: "text/event-stream" };
    if (lastEventId !== null) extra["Last-Event-ID"] = lastEventId;
    response = await fetch(STREAM, { headers: headers(extra), cache: "no-store" });
  } catch {
    response = null;
  }
  if (response && (response.status === 404 || response.status === 405)) {
    // This aggregator has no stream: poll, and ask again now and then.
    indicate("polling", `polling every ${POLL_MS / 1000} s`);
    poll(POLL_MS);
    setTimeout(() => connect(0), RETRY_DETECT_MS);
    return;
  }
  if (response && response.ok) {
    indicate("live", "live");
    poll(SAFETY_POLL_MS);
    schedule(Object.keys(refreshers)); // catch up on what happened while disconnected
    try {
      await read(response);
    } catch {
      // dropped mid-stream: reconnect below
    }
    attempt = 0;
  } else if (response && (response.status === 401 || response.status === 403)) {
    refused(response.status);
  }
  const delay = Math.min(15000, 1000 * 2 ** attempt);
  indicate("reconnecting", `reconnecting… (polling every ${POLL_MS / 1000} s)`);
  poll(POLL_MS);
  setTimeout(() => connect(attempt + 1), delay);
}

/**
 * Start keeping the page current: ``topics`` maps a topic to its refresh function, ``inPlace``
 * an event name to a function applying its data without a request (false: it could not).
 */
export function startLive(topics, inPlace = {}) {
  refreshers = topics;
  patches = inPlace;
  indicate("connecting", "connecting…");
  connect();
}
