// The divoc dashboard. It loads the counts the node has (the analytics
// summary by day, district, vaccine and reason, and the safety signals),
// then follows the event stream from the height those counts are at and
// applies each committed event to them exactly once: an event counts in a
// source only if its block is above that source's height, and an event id
// (height:index) at or before the last one applied is ignored, so a
// reconnect that replays part of a block changes nothing.
(function () {
  "use strict";

  const DIMS = ["day", "district", "vaccine", "reason"];
  const KINDS = ["vaccination", "certificate", "revocation", "supersede", "feedback", "aefi", "signal"];
  const TOP = 12; // bars per chart; the rest are summed as "others"
  const LOG_SIZE = 25;
  const SVGNS = "http://www.w3.org/2000/svg";
  const number = new Intl.NumberFormat("en");

  const state = {
    dims: {}, // dimension -> {height, rows: Map(key -> counts)}
    total: zero(),
    safety: null, // {height, policy, batches: Map(vaccine/batch -> counters), open: Map, suspended: []}
    districtOf: new Map(), // facility code -> district, from the registry
    last: { h: 0, i: -1 }, // the last event applied
    from: 1, // where the stream starts when no event has been applied
    height: 0,
    applied: 0,
    log: [],
  };

  function zero() {
    return { doses: 0, certificates: 0, refused: 0, revocations: 0, feedback: 0, aefi: 0, serious_aefi: 0 };
  }

  // ---- loading ----

  async function getJSON(url) {
    const resp = await fetch(url, { headers: { Accept: "application/json" } });
    const body = await resp.json().catch(() => null);
    if (!resp.ok) {
      throw new Error(url + ": " + resp.status + " " + ((body && (body.detail || body.title)) || resp.statusText));
    }
    return body;
  }

  async function load() {
    const [status, registry, signals, ...sums] = await Promise.all([
      getJSON("/v1/status"),
      getJSON("/v1/registry"),
      getJSON("/v1/signals"),
      ...DIMS.map((d) => getJSON("/v1/analytics/summary?by=" + d)),
    ]);
    document.getElementById("chain").textContent = status.chain_id || "";
    for (const f of registry.facilities || []) {
      state.districtOf.set(f.code, f.district);
    }
    let from = Infinity;
    DIMS.forEach((d, n) => {
      const s = sums[n];
      const rows = new Map();
      for (const { key, ...counts } of s.rows) {
        rows.set(key, Object.assign(zero(), counts));
      }
      state.dims[d] = { height: s.height, rows: rows };
      if (d === "day") {
        state.total = Object.assign(zero(), s.total);
      }
      from = Math.min(from, s.height);
    });
    const batches = new Map();
    for (const b of signals.batches || []) {
      batches.set(b.vaccine + "/" + b.batch, b);
    }
    const open = new Map();
    for (const s of signals.open || []) {
      open.set(s.vaccine + "/" + s.batch, s);
    }
    state.safety = { height: signals.height, policy: signals.policy, batches: batches, open: open, suspended: signals.suspended || [] };
    from = Math.min(from, signals.height);
    state.from = from + 1;
    seeHeight(Math.max(status.height, from));
  }

  // ---- applying events ----

  function parseID(id) {
    const [h, i] = String(id).split(":");
    return { h: Number(h), i: Number(i) };
  }

  function onEvent(msg) {
    const id = parseID(msg.lastEventId);
    if (!(id.h > 0)) {
      return;
    }
    if (id.h < state.last.h || (id.h === state.last.h && id.i <= state.last.i)) {
      return; // replayed after a reconnect: already applied
    }
    let e;
    try {
      e = JSON.parse(msg.data);
    } catch (err) {
      return;
    }
    state.last = id;
    state.applied++;
    applyCounts(id.h, e);
    applySafety(id.h, e);
    remember(id, e);
    seeHeight(id.h);
    scheduleRender();
  }

  // What an event adds to counts, as the node's analytics count it.
  function increment(e) {
    switch (e.kind) {
      case "vaccination":
        if (e.code && e.code !== "ok") {
          return { refused: 1 };
        }
        return e.certificate ? { doses: 1, certificates: 1 } : { doses: 1 };
      case "certificate":
        return { certificates: 1 };
      case "revocation":
        return { revocations: 1 };
      case "feedback":
        return { feedback: 1 };
      case "aefi":
        return e.serious ? { aefi: 1, serious_aefi: 1 } : { aefi: 1 };
    }
    return null;
  }

  function keyOf(dim, e) {
    let v;
    switch (dim) {
      case "day":
        v = e.date;
        break;
      case "district":
        v = e.district || state.districtOf.get(e.facility);
        break;
      case "vaccine":
        v = e.vaccine;
        break;
      case "reason":
        if (e.kind !== "vaccination") {
          return null;
        }
        v = e.code || "ok";
        break;
    }
    return v || "unknown";
  }

  function applyCounts(h, e) {
    const inc = increment(e);
    if (!inc) {
      return;
    }
    for (const d of DIMS) {
      const dim = state.dims[d];
      if (h <= dim.height) {
        continue; // already in the summary
      }
      const key = keyOf(d, e);
      if (key === null) {
        continue;
      }
      let row = dim.rows.get(key);
      if (!row) {
        row = zero();
        dim.rows.set(key, row);
      }
      add(row, inc);
      if (d === "day") {
        add(state.total, inc);
      }
    }
  }

  function add(c, inc) {
    for (const k in inc) {
      c[k] += inc[k];
    }
  }

  function applySafety(h, e) {
    const s = state.safety;
    if (h <= s.height) {
      return;
    }
    const key = e.vaccine + "/" + e.batch;
    const batch = () => {
      let b = s.batches.get(key);
      if (!b) {
        b = { vaccine: e.vaccine, batch: e.batch, doses: 0, aefi: 0, serious: 0 };
        s.batches.set(key, b);
      }
      return b;
    };
    if (e.kind === "vaccination" && (!e.code || e.code === "ok")) {
      batch().doses++;
    } else if (e.kind === "aefi") {
      const b = batch();
      b.aefi++;
      if (e.serious) {
        b.serious++;
      }
      for (const c of e.seriousness || []) {
        b[c] = (b[c] || 0) + 1;
      }
    } else if (e.kind === "signal") {
      s.open.set(key, { vaccine: e.vaccine, batch: e.batch, height: h, serious_per_million: e.serious_per_million || 0 });
    }
  }

  function remember(id, e) {
    state.log.unshift({ id: id.h + ":" + id.i, e: e });
    if (state.log.length > LOG_SIZE) {
      state.log.length = LOG_SIZE;
    }
  }

  function seeHeight(h) {
    if (h > state.height) {
      state.height = h;
    }
  }

  // ---- the stream ----

  let source = null;
  let retry = 1000;
  let retryTimer = null;

  function connect() {
    retryTimer = null;
    // Resume at the block of the last event applied (its earlier events
    // are skipped by id), or where the loaded counts end.
    const from = state.last.h > 0 ? state.last.h : state.from;
    source = new EventSource("/v1/events/stream?from=" + from);
    setLive("connecting");
    source.onopen = () => {
      retry = 1000;
      setLive("live");
    };
    for (const k of KINDS) {
      source.addEventListener(k, onEvent);
    }
    // The node ends a stream it cannot keep feeding with "reconnect".
    source.addEventListener("reconnect", reconnect);
    source.onerror = reconnect;
  }

  // The browser would reconnect by itself with Last-Event-ID, but the
  // node prefers ?from= to that header, so the dashboard reconnects
  // itself, from the last block it applied, with a growing delay.
  function reconnect() {
    if (source) {
      source.close();
      source = null;
    }
    if (retryTimer) {
      return;
    }
    setLive("reconnecting");
    retryTimer = setTimeout(connect, retry);
    retry = Math.min(retry * 2, 15000);
  }

  function setLive(s) {
    const el = document.getElementById("live");
    el.textContent = { live: "live", connecting: "connecting…", reconnecting: "reconnecting…", offline: "offline" }[s];
    document.body.dataset.live = s;
  }

  // ---- rendering ----

  let renderTimer = null;

  function scheduleRender() {
    if (renderTimer === null) {
      renderTimer = setTimeout(render, 150);
    }
  }

  function render() {
    renderTimer = null;
    const t = state.total;
    const kpis = Object.assign({}, t, { signals: state.safety.open.size });
    for (const el of document.querySelectorAll("[data-kpi]")) {
      const v = kpis[el.dataset.kpi] || 0;
      el.dataset.value = v;
      el.querySelector("b").textContent = number.format(v);
    }
    document.getElementById("height").textContent = number.format(state.height);
    renderDays(section("day"));
    renderBars(section("district"), rowsOf("district", "doses"), "bar");
    renderBars(section("vaccine"), rowsOf("vaccine", "doses"), "bar");
    renderBars(section("reason"), rowsOf("reason", "refused", (k) => k !== "ok"), "bar refused");
    renderSafety(section("safety"));
    renderLog();
    const b = document.body.dataset;
    b.height = state.height;
    b.applied = state.applied;
    b.ready = "1";
  }

  function section(name) {
    return document.querySelector('[data-chart="' + name + '"]');
  }

  function rowsOf(dim, field, keep) {
    const out = [];
    for (const [key, c] of state.dims[dim].rows) {
      if (c[field] > 0 && (!keep || keep(key))) {
        out.push({ label: key, value: c[field] });
      }
    }
    return out;
  }

  function el(name, attrs, text) {
    const n = document.createElementNS(SVGNS, name);
    for (const k in attrs || {}) {
      n.setAttribute(k, attrs[k]);
    }
    if (text !== undefined) {
      n.textContent = text;
    }
    return n;
  }

  function tip(node, text) {
    node.appendChild(el("title", {}, text));
    return node;
  }

  function show(sec, svg, points, total) {
    const box = sec.querySelector(".chart");
    box.replaceChildren(svg);
    sec.dataset.points = points;
    sec.dataset.total = total;
  }

  function showEmpty(sec, text) {
    const p = document.createElement("p");
    p.className = "empty";
    p.textContent = text;
    sec.querySelector(".chart").replaceChildren(p);
    sec.dataset.points = 0;
    sec.dataset.total = 0;
  }

  // Round numbers for an axis from 0 to at least max.
  function ticks(max, count) {
    if (max <= 0) {
      return [0, 1];
    }
    const raw = Math.max(max / count, 1); // counts: whole steps
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
    const out = [];
    for (let v = 0; v < max + step; v += step) {
      out.push(v);
    }
    return out;
  }

  function short(n) {
    if (n >= 1e6) {
      return +(n / 1e6).toFixed(1) + "M";
    }
    if (n >= 1e4) {
      return +(n / 1e3).toFixed(0) + "k";
    }
    return number.format(n);
  }

  const DAY = 86400000;

  function renderDays(sec) {
    const rows = state.dims.day.rows;
    const days = [...rows.keys()].filter((k) => /^\d{4}-\d{2}-\d{2}$/.test(k) && rows.get(k).doses > 0).sort();
    if (days.length === 0) {
      showEmpty(sec, "No doses recorded yet.");
      return;
    }
    const series = [];
    const last = Date.parse(days[days.length - 1]);
    let cum = 0;
    for (let t = Date.parse(days[0]); t <= last; t += DAY) {
      const day = new Date(t).toISOString().slice(0, 10);
      const v = rows.has(day) ? rows.get(day).doses : 0;
      cum += v;
      series.push({ day: day, doses: v, cum: cum });
    }
    const W = 960, H = 250, L = 48, R = 60, T = 10, B = 26;
    const pw = W - L - R, ph = H - T - B;
    const yt = ticks(Math.max(...series.map((p) => p.doses)), 4);
    const ymax = yt[yt.length - 1];
    const ct = ticks(cum, 4);
    const cmax = ct[ct.length - 1];
    const bw = pw / series.length;
    const svg = el("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "Doses per day" });
    const grid = el("g", { class: "grid axis" });
    for (const v of yt) {
      const y = T + ph - (v / ymax) * ph;
      grid.appendChild(el("line", { x1: L, x2: W - R, y1: y, y2: y }));
      grid.appendChild(el("text", { x: L - 6, y: y + 4, "text-anchor": "end" }, short(v)));
    }
    svg.appendChild(grid);
    const right = el("g", { class: "axis right" });
    for (const v of ct) {
      const y = T + ph - (v / cmax) * ph;
      right.appendChild(el("text", { x: W - R + 6, y: y + 4 }, short(v)));
    }
    svg.appendChild(right);
    // Date labels, about eight: on month starts when the range is long.
    const xl = el("g", { class: "axis" });
    const monthly = series.length > 60;
    const every = monthly ? Math.ceil(series.length / 30 / 8) : Math.ceil(series.length / 8);
    let months = 0;
    series.forEach((p, n) => {
      let label = null;
      if (monthly && p.day.endsWith("-01") && months++ % every === 0) {
        label = new Date(p.day).toLocaleString("en", { month: "short", year: "numeric", timeZone: "UTC" });
      } else if (!monthly && n % every === 0) {
        label = p.day.slice(5);
      }
      if (label) {
        xl.appendChild(el("text", { x: L + n * bw + bw / 2, y: H - 6, "text-anchor": "middle" }, label));
      }
    });
    svg.appendChild(xl);
    const bars = el("g");
    let points = 0;
    series.forEach((p, n) => {
      if (p.doses === 0) {
        return;
      }
      points++;
      const h = (p.doses / ymax) * ph;
      bars.appendChild(tip(el("rect", { class: "bar", x: L + n * bw + bw * 0.1, y: T + ph - h, width: Math.max(bw * 0.8, 0.8), height: h }),
        p.day + ": " + number.format(p.doses) + " doses (" + number.format(p.cum) + " to date)"));
    });
    svg.appendChild(bars);
    const line = series.map((p, n) => (L + n * bw + bw / 2).toFixed(1) + "," + (T + ph - (p.cum / cmax) * ph).toFixed(1)).join(" ");
    svg.appendChild(el("polyline", { class: "cumulative", points: line }));
    show(sec, svg, points, cum);
  }

  // Horizontal bars, largest first; beyond TOP, one "others" bar.
  function renderBars(sec, items, cls) {
    if (items.length === 0) {
      showEmpty(sec, sec.dataset.chart === "reason" ? "The ledger has refused nothing." : "No doses recorded yet.");
      return;
    }
    items.sort((a, b) => b.value - a.value || (a.label < b.label ? -1 : 1));
    if (items.length > TOP) {
      const rest = items.splice(TOP - 1);
      items.push({ label: rest.length + " others", value: rest.reduce((s, x) => s + x.value, 0) });
    }
    const total = items.reduce((s, x) => s + x.value, 0);
    const drawn = hbars(items.map((x) => ({
      label: x.label,
      parts: [{ value: x.value, cls: cls }],
      text: number.format(x.value) + " (" + Math.round((100 * x.value) / total) + "%)",
    })));
    show(sec, drawn, items.length, total);
  }

  // hbars draws rows of {label, parts: [{value, cls}], text, flag}.
  function hbars(rows) {
    const W = 480, LW = 160, RH = 24;
    const VW = 12 + 6.6 * Math.max(...rows.map((r) => r.text.length)); // room for the longest value
    const max = Math.max(...rows.map((r) => r.parts.reduce((s, p) => s + p.value, 0)), 1);
    const svg = el("svg", { viewBox: "0 0 " + W + " " + (rows.length * RH + 4), role: "img" });
    rows.forEach((r, n) => {
      const y = n * RH + 2;
      const g = el("g");
      const label = r.label.length > 24 ? r.label.slice(0, 23) + "…" : r.label;
      g.appendChild(tip(el("text", { x: LW - 8, y: y + RH / 2 + 4, "text-anchor": "end", class: r.flag ? "flag" : "" }, (r.flag ? "⚠ " : "") + label), r.label));
      let x = LW;
      for (const p of r.parts) {
        const w = (p.value / max) * (W - LW - VW);
        if (p.value > 0) {
          g.appendChild(tip(el("rect", { class: p.cls, x: x, y: y + 3, width: Math.max(w, 1), height: RH - 6, rx: 2 }), r.label + ": " + r.text));
        }
        x += w;
      }
      g.appendChild(el("text", { x: x + 6, y: y + RH / 2 + 4, class: "value" }, r.text));
      svg.appendChild(g);
    });
    return svg;
  }

  function renderSafety(sec) {
    const s = state.safety;
    const p = s.policy || {};
    document.getElementById("policy").textContent = "Dark: serious reports; light: the others. A signal opens on a batch at " +
      number.format(p.serious_per_million || 0) + " serious reports per million doses, once it has " + number.format(p.min_doses || 0) + " doses.";
    const batches = [...s.batches.entries()].filter(([, b]) => b.aefi > 0);
    batches.sort(([ka, a], [kb, b]) => (s.open.has(kb) - s.open.has(ka)) || b.serious - a.serious || b.aefi - a.aefi || (ka < kb ? -1 : 1));
    const list = document.getElementById("signals");
    const items = [];
    for (const [key, sig] of s.open) {
      const li = document.createElement("li");
      li.className = "open";
      li.textContent = "Signal open on " + key.replace("/", " batch ") + ": " + number.format(sig.serious_per_million) + " serious per million doses (since block " + number.format(sig.height) + ")";
      items.push(li);
    }
    for (const b of s.suspended) {
      const li = document.createElement("li");
      li.textContent = "Suspended: " + b.vaccine + " batch " + b.batch + (b.reason ? " (" + b.reason + ")" : "");
      items.push(li);
    }
    list.replaceChildren(...items);
    if (batches.length === 0) {
      showEmpty(sec, "No adverse events reported.");
      return;
    }
    const shown = batches.slice(0, TOP);
    const total = batches.reduce((sum, [, b]) => sum + b.aefi, 0);
    const svg = hbars(shown.map(([key, b]) => ({
      label: key.replace("/", " "),
      flag: s.open.has(key),
      parts: [{ value: b.serious, cls: "bar serious" }, { value: b.aefi - b.serious, cls: "bar aefi" }],
      text: b.aefi + " AEFI, " + b.serious + " serious" + (b.doses > 0 ? " · " + short(Math.round((b.serious * 1e6) / b.doses)) + " serious/M doses" : ""),
    })));
    show(sec, svg, shown.length, total);
  }

  function describe(e) {
    const where = [e.vaccine, e.batch && "batch " + e.batch, e.facility, e.district].filter(Boolean).join(" · ");
    switch (e.kind) {
      case "vaccination":
        if (e.code && e.code !== "ok") {
          return ["refused", e.code + " · " + where];
        }
        return ["vaccination", "dose " + ((e.event && e.event.dose) || "?") + " · " + where];
      case "certificate":
        return ["certificate", "a correction · " + where];
      case "revocation":
        return ["revocation", (e.status || "revoked") + " · " + where];
      case "feedback":
        return ["feedback", "★".repeat(e.rating || 0) + " · " + where];
      case "aefi":
        return ["aefi", (e.serious ? "serious (" + (e.seriousness || []).join(", ") + ")" : "not serious") + " · " + where];
      case "signal":
        return ["signal", "opened · " + where + " · " + number.format(e.serious_per_million || 0) + " serious per million"];
    }
    return [e.kind, where];
  }

  function renderLog() {
    const items = state.log.map(({ id, e }) => {
      const [kind, text] = describe(e);
      const li = document.createElement("li");
      const code = document.createElement("code");
      code.textContent = id;
      const k = document.createElement("span");
      k.className = "kind " + kind;
      k.textContent = kind;
      li.append(code, k, text);
      return li;
    });
    document.getElementById("log").replaceChildren(...items);
  }

  // ---- start ----

  async function start() {
    let wait = 1000;
    for (;;) {
      try {
        await load();
        break;
      } catch (err) {
        const box = document.getElementById("error");
        box.textContent = "Could not load the counts (" + err.message + "); retrying.";
        box.hidden = false;
        setLive("offline");
        await new Promise((r) => setTimeout(r, wait));
        wait = Math.min(wait * 2, 15000);
      }
    }
    document.getElementById("error").hidden = true;
    render();
    connect();
  }

  // For tests and the curious: the state, and a way to drop the stream.
  window.divocDashboard = { state: state, reconnect: reconnect };

  start();
})();
