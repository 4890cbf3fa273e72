// SPDX-License-Identifier: BSD-3-Clause
// The onvm web console: draws each view the manager streams on /api/stream
// (the JSON of /api/snapshot). Plain DOM and SVG, no framework, no build.
// Every string from the manager goes in as text, never as markup.
"use strict";

const STALE_MS = 3000; // no view for this long: the link says so
const RECONNECT_MS = 2000; // after a stream that closed for good
const SVG_NS = "http://www.w3.org/2000/svg";

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  node.append(...children.map((c) => (c instanceof Node ? c : String(c))));
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttrs(node, attrs);
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function setAttrs(node, attrs) {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    node.setAttribute(key, String(value));
  }
}

// ---- numbers as people read them ----

function rate(pps) {
  const n = Number(pps) || 0;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)} k`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(2)} k`;
  return n.toFixed(0);
}

function count(n) {
  return (Number(n) || 0).toLocaleString("en-US");
}

function micros(us, samples) {
  if (!samples) return "–";
  if (us < 10) return `${us.toFixed(2)} µs`;
  if (us < 1000) return `${us.toFixed(1)} µs`;
  if (us < 1e6) return `${(us / 1000).toFixed(2)} ms`;
  return `${(us / 1e6).toFixed(2)} s`;
}

function duration(seconds) {
  let s = Math.floor(Number(seconds) || 0);
  const d = Math.floor(s / 86400);
  s %= 86400;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const two = (x) => String(x).padStart(2, "0");
  const hms = `${two(h)}:${two(m)}:${two(s % 60)}`;
  return d ? `${d}d ${hms}` : hms;
}

function clock(unixSeconds) {
  const t = new Date(unixSeconds * 1000);
  const two = (x) => String(x).padStart(2, "0");
  return `${two(t.getHours())}:${two(t.getMinutes())}:${two(t.getSeconds())}`;
}

// A table cell the tests (and scripts) can read: data-field names it,
// data-value holds the raw number behind the text.
function cell(field, text, value, cls) {
  return el("td", { "data-field": field, "data-value": value, class: cls }, text);
}

function fillBody(table, rows, empty) {
  const body = table.tBodies[0];
  const width = table.tHead ? table.tHead.rows[0].cells.length : 2;
  if (!rows.length) rows = [el("tr", {}, el("td", { colspan: width, class: "empty" }, empty))];
  body.replaceChildren(...rows);
}

// ---- the parts of the page ----

function renderHeader(v) {
  const status = v.status || {};
  const pool = v.pool || {};
  document.title = `onvm ${status.name || ""}`;
  $("manager-name").textContent = status.name || "";
  $("uptime").textContent = duration(v.uptime);
  const used = (pool.size || 0) - (pool.available || 0);
  const pct = pool.size ? (100 * used) / pool.size : 0;
  $("pool").textContent = `${count(used)} / ${count(pool.size)} (${pct.toFixed(1)}%)`;
  $("pool").dataset.value = used;
  $("nf-count").textContent = (v.nfs_table || []).length;
  $("chain-count").textContent = (v.chains || []).length;
  $("rule-count").textContent = status.flow_rules ?? "–";
  const workers = (status.worker_cores || []).join(",");
  $("cores").textContent = status.control_core === undefined ? "–"
    : `control ${status.control_core} · workers ${workers}`;
  $("version").textContent = status.onvm ? `onvm ${status.onvm}` : "";
}

function renderPorts(ports) {
  const rows = ports.map((p) => {
    return el("tr", { "data-id": p.id },
      cell("id", p.id, p.id),
      el("td", { "data-field": "devargs", "data-value": p.devargs, title: p.devargs,
        class: "name" }, String(p.devargs).split(",")[0]),
      cell("driver", p.driver),
      cell("mac", p.mac, undefined, "dim"),
      cell("rx_pps", rate(p.rx_pps), p.rx_pps, "num"),
      cell("tx_pps", rate(p.tx_pps), p.tx_pps, "num"),
      cell("rx", count(p.rx), p.rx, "num"),
      cell("tx", count(p.tx), p.tx, "num"),
      cell("drop", count(p.drop), p.drop, p.drop ? "num bad" : "num"));
  });
  fillBody($("ports"), rows, "no ports");
}

const DATAPLANE = [
  ["ring_full_drop", "NF ring full"],
  ["act_drop", "dropped by NFs"],
  ["chain_end", "past a chain's end"],
  ["chain_gone", "on a replaced chain"],
  ["no_dest", "no destination"],
  ["tee_fail", "tee: pool empty"],
  ["tee_copies", "tee copies", "info"],
  ["reclaimed", "mbufs reclaimed", "info"],
];

function renderDataplane(dp, crashed) {
  const pairs = DATAPLANE.filter(([key]) => key in dp).map(([key, label, kind]) =>
    [el("th", {}, label),
      cell(key, count(dp[key]), dp[key], dp[key] && kind !== "info" ? "num bad" : "num")]);
  pairs.push([el("th", {}, "NF crashes"),
    cell("crashed_nfs", count(crashed), crashed, crashed ? "num bad" : "num")]);
  const rows = [];
  for (let i = 0; i < pairs.length; i += 2) rows.push(el("tr", {}, ...pairs.slice(i, i + 2).flat()));
  fillBody($("dataplane"), rows, "");
}

function renderNfs(nfs, latency) {
  const hop = new Map((latency.nfs || []).map((h) => [h.id, h]));
  const rows = nfs.map((nf) => {
    const h = hop.get(nf.id) || {};
    const core = nf.core >= 0 ? `CPU ${nf.core}` : "floating";
    return el("tr", { "data-id": nf.id, "data-name": nf.name },
      cell("id", nf.id, nf.id),
      cell("name", nf.name, undefined, "name"),
      cell("service", nf.service, nf.service, "num"),
      cell("instance", nf.instance, nf.instance, "num"),
      cell("core", nf.shared_core ? `${core}, shared` : core, nf.core),
      el("td", { "data-field": "state", "data-value": nf.state },
        el("span", { class: `state state-${nf.state}` }, nf.state)),
      cell("pid", nf.pid, nf.pid, "num dim"),
      cell("rx_pps", rate(nf.rx_pps), nf.rx_pps, "num"),
      cell("tx_pps", rate(nf.tx_pps), nf.tx_pps, "num"),
      cell("rx", count(nf.rx), nf.rx, "num"),
      cell("drop", count(nf.drop), nf.drop, nf.drop ? "num bad" : "num"),
      cell("rx_ring", count(nf.rx_ring), nf.rx_ring, "num dim"),
      cell("p50_us", micros(h.p50_us, h.count), h.p50_us, "num"),
      cell("p99_us", micros(h.p99_us, h.count), h.p99_us, "num"));
  });
  fillBody($("nfs"), rows, "no NF has joined");
}

// ---- chains as graphs ----

const BOX_W = 150, BOX_H = 60, PORT_W = 104, GAP = 34, TEE_W = 18, ROW = 96, PAD = 8;

function parseHops(text) {
  return String(text).split(",").filter((t) => t.trim()).map((t) => {
    const [kind, dest] = t.trim().includes(":") ? t.trim().split(":") : ["nf", t.trim()];
    return { kind: kind === "out" ? "port" : kind, dest: Number(dest) };
  });
}

function servicesOf(nfs) {
  const by = new Map();
  for (const nf of nfs) {
    if (!by.has(nf.service)) by.set(nf.service, { running: 0, names: new Map() });
    const s = by.get(nf.service);
    if (nf.state === "running") s.running += 1;
    s.names.set(nf.name, (s.names.get(nf.name) || 0) + 1);
  }
  return by;
}

function serviceLabel(s) {
  if (!s || !s.running) return "no NF running";
  return [...s.names].map(([n, k]) => (k > 1 ? `${n} ×${k}` : n)).join(", ");
}

function trim(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function box(g, x, y, w, lines, cls) {
  g.append(svg("rect", { x, y, width: w, height: BOX_H, rx: 7, class: cls }));
  lines.forEach(([text, lineCls], i) => {
    g.append(svg("text", { x: x + w / 2, y: y + 18 + i * 16, class: lineCls }, text));
  });
}

function arrow(g, x1, y1, x2, y2, marker, cls = "edge") {
  g.append(svg("line", { x1, y1, x2, y2, class: cls, "marker-end": `url(#${marker})` }));
}

function drawChain(chain, latency, services, ports, index) {
  const hops = parseHops(chain.hops);
  const hopLatency = new Map((latency.hops || []).map((h) => [h.hop, h]));
  const hasTee = hops.some((h) => h.kind === "tee");
  const marker = `arrow-${index}`;
  const root = svg("svg", { class: "chain-graph", role: "img",
    "aria-label": `chain ${chain.name}: ${chain.hops}` });
  const defs = svg("defs");
  const head = svg("marker", { id: marker, viewBox: "0 0 10 10", refX: 9, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
  head.append(svg("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }));
  defs.append(head);
  root.append(defs);
  const g = svg("g");
  root.append(g);

  const y = PAD;
  const mid = y + BOX_H / 2;
  let x = PAD;
  let branchRight = 0;
  const rules = chain.flow_rules || 0;
  const source = chain.id === 0 ? ["ports RX", "unmatched"]
    : ["ports RX", `${rules} flow rule${rules === 1 ? "" : "s"}`];
  box(g, x, y, PORT_W, [[source[0], "title"], [source[1], "sub"]], "port");
  x += PORT_W;
  hops.forEach((hop, i) => {
    const lat = hopLatency.get(i);
    const latText = lat && lat.count
      ? `${micros(lat.p50_us, 1)} / ${micros(lat.p99_us, 1)}` : "no samples";
    if (hop.kind === "tee") {
      // A junction on the main line; the copy branches down to its service,
      // in a row of its own, clear of the branch before.
      const cx = Math.max(x + GAP + TEE_W / 2, branchRight + GAP / 2 + BOX_W / 2);
      g.append(svg("line", { x1: x, y1: mid, x2: cx + TEE_W / 2, y2: mid, class: "edge" }));
      g.append(svg("circle", { cx, cy: mid, r: 5, class: "junction" }));
      const bx = cx - BOX_W / 2, by = y + ROW;
      arrow(g, cx, mid + 5, cx, by - 1, marker, "edge copy");
      g.append(svg("text", { x: cx + 6, y: mid + 30, class: "edge-label" }, "copy"));
      const s = services.get(hop.dest);
      box(g, bx, by, BOX_W, [[`tee: service ${hop.dest}`, "title"],
        [trim(serviceLabel(s), 24), s && s.running ? "sub" : "sub bad"],
        [latText, "lat"]], s && s.running ? "service" : "service missing");
      branchRight = bx + BOX_W;
      x = cx + TEE_W / 2;
      return;
    }
    arrow(g, x, mid, x + GAP - 1, mid, marker);
    x += GAP;
    if (hop.kind === "port") {
      const p = ports.find((q) => q.id === hop.dest);
      const name = p ? trim(String(p.devargs).split(",")[0], 14) : "not configured";
      box(g, x, y, PORT_W, [[`port ${hop.dest} TX`, "title"], [name, p ? "sub" : "sub bad"]],
        p ? "port" : "port missing");
      x += PORT_W;
    } else {
      const s = services.get(hop.dest);
      box(g, x, y, BOX_W, [[`service ${hop.dest}`, "title"],
        [trim(serviceLabel(s), 24), s && s.running ? "sub" : "sub bad"],
        [latText, "lat"]], s && s.running ? "service" : "service missing");
      x += BOX_W;
    }
  });
  const width = Math.max(x, branchRight) + PAD;
  const height = y + BOX_H + PAD + (hasTee ? ROW : 0);
  setAttrs(root, { width, height, viewBox: `0 0 ${width} ${height}` });
  return root;
}

function renderChains(v) {
  const latency = new Map(((v.latency || {}).chains || []).map((c) => [c.name, c]));
  const services = servicesOf(v.nfs_table || []);
  const parts = (v.chains || []).map((chain, i) => {
    const lat = latency.get(chain.name) || {};
    const figures = lat.count
      ? `port to port p50 ${micros(lat.p50_us, 1)} · p99 ${micros(lat.p99_us, 1)} · ` +
        `${count(lat.count)} samples`
      : "port to port: no samples yet";
    return el("div", { class: "chain", "data-name": chain.name },
      el("h3", {}, chain.name, " ", el("code", {}, chain.hops || "(empty)"),
        el("span", { class: "chain-lat", "data-field": "chain_p50_us",
          "data-value": lat.p50_us }, figures)),
      chain.hops ? drawChain(chain, lat, services, v.ports_table || [], i)
        : el("p", { class: "empty" }, "no hops: packets are dropped"));
  });
  $("chains").replaceChildren(...(parts.length ? parts : [el("p", { class: "empty" }, "no chains")]));
}

const EVENT_TONE = {
  "nf.crashed": "bad", "nf.reclaimed": "bad", "nf.joined": "good", "nf.restarted": "warn",
  "flow.expired": "dim", "port.link": "warn",
};

function eventFields(e) {
  return Object.entries(e)
    .filter(([k]) => !["seq", "time", "kind"].includes(k))
    .map(([k, val]) => `${k}=${Array.isArray(val) ? val.join(",") : val}`)
    .join("  ");
}

function renderEvents(events) {
  const items = [...events].reverse().map((e) =>
    el("li", { "data-seq": e.seq },
      el("time", {}, clock(e.time)),
      el("span", { class: `kind ${EVENT_TONE[e.kind] || ""}` }, e.kind),
      el("span", { class: "fields" }, eventFields(e))));
  $("events").replaceChildren(...(items.length ? items : [el("li", { class: "empty" }, "no events yet")]));
}

// ---- the stream ----

let updates = 0;
let lastView = 0;
let stream = null;

function render(v) {
  renderHeader(v);
  renderPorts(v.ports_table || []);
  renderDataplane(v.dataplane || {}, v.crashed_nfs || 0);
  renderNfs(v.nfs_table || [], v.latency || {});
  renderChains(v);
  renderEvents(v.events || []);
}

function setLink(state, text) {
  const link = $("link");
  link.dataset.state = state;
  link.textContent = text;
}

function connect() {
  stream = new EventSource("/api/stream");
  stream.onmessage = (message) => {
    try {
      const view = JSON.parse(message.data);
      render(view);
      updates += 1;
      lastView = Date.now();
      const link = $("link");
      link.dataset.updates = updates;
      link.dataset.time = view.time;
      setLink("live", `live · ${clock(view.time)}`);
    } catch (err) {
      setLink("error", `cannot show this view: ${err.message}`);
    }
  };
  stream.onerror = () => {
    // The browser retries by itself after a dropped connection; a stream
    // it gave up on (an HTTP error) is opened again here.
    setLink("down", "reconnecting");
    if (stream.readyState === EventSource.CLOSED) {
      stream = null;
      setTimeout(connect, RECONNECT_MS);
    }
  };
}

setInterval(() => {
  const state = $("link").dataset.state;
  if (state === "live" && Date.now() - lastView > STALE_MS) setLink("stale", "no update for a while");
}, 1000);

connect();
