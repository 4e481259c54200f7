// jaxgan GAN Playground: draws the server's snapshots (server-sent events) and sends the controls' changes.
// No build step, no dependencies: plain DOM and canvas.
"use strict";

const $ = (sel) => document.querySelector(sel);
const $$ = (sel) => Array.from(document.querySelectorAll(sel));

const view = {
  snap: null, dirty: true, real: null, dataKey: null, settings: {}, choices: {}, serverMessage: null,
  history: [], modesHistory: [], drawn: [], lastStep: -1,
  arrivals: [],  // snapshot arrival times (the page's updates per second)
};

function decode(field, Type) {
  const bin = atob(field.b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Type(bytes.buffer);
}

function say(text, kind) {
  const m = $("#message");
  m.textContent = text;
  m.className = kind || "info";
}

async function api(path, body) {
  const opts = body === undefined ? {} :
    { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  let res, data;
  try {
    res = await fetch(path, opts);
    data = await res.json();
  } catch (err) {
    say(`error: the server did not answer (${err.message})`, "error");
    throw err;
  }
  if (!res.ok) {
    say(`error: ${data.error || res.status}`, "error");
    throw new Error(data.error);
  }
  if (data.settings) showSettings(data.settings);
  if (data.message !== undefined) {
    view.serverMessage = data.message;
    say(data.message, data.message_kind);
  }
  if (data.playing !== undefined) showPlaying(data.playing);
  return data;
}

// -- controls ------------------------------------------------------------------------------------------------

function showSettings(s) {
  view.settings = s;
  for (const el of $$("[data-setting]")) {
    const v = s[el.dataset.setting];
    if (v !== undefined && document.activeElement !== el) el.value = v;
  }
  if (document.activeElement !== $("#seed")) $("#seed").value = s.seed;
  $("#modesfig").style.opacity = (s.dataset === "ring8" || s.dataset === "grid25") ? 1 : 0.4;
}

function showPlaying(playing) {
  const b = $("#play");
  b.textContent = playing ? "❚❚ pause" : "▶ play";
  b.classList.toggle("playing", playing);
  b.dataset.playing = playing ? "1" : "0";
  $("#step").disabled = playing;
}

function fillChoices(choices) {
  for (const [name, options] of Object.entries(choices)) {
    const sel = $(`select[data-setting="${name}"]`);
    sel.innerHTML = "";
    for (const o of options) sel.add(new Option(o, o));
  }
}

function wireControls() {
  for (const el of $$("[data-setting]")) {
    el.addEventListener("change", async () => {
      const name = el.dataset.setting;
      const value = el.type === "number" ? (el.value === "" ? el.value : Number(el.value)) : el.value;
      say(`applying ${name} = ${value}… (a new setting compiles once)`);
      try {
        await api("/api/settings", { [name]: value });
      } catch (err) {
        el.value = view.settings[name];  // the server kept the old value
      }
    });
  }
  $("#play").addEventListener("click", () => api($("#play").dataset.playing === "1" ? "/api/pause" : "/api/play", {}).catch(() => {}));
  $("#step").addEventListener("click", () => api("/api/step", {}).catch(() => {}));
  $("#reset").addEventListener("click", () => api("/api/reset", { seed: Number($("#seed").value) }).then(resetCurves).catch(() => {}));
  for (const b of $$(".preset")) {
    b.addEventListener("click", () => { say(`loading the ${b.dataset.preset} preset…`); api("/api/preset", { name: b.dataset.preset }).catch(() => {}); });
  }
  $("#save").addEventListener("click", async () => {
    try {
      const r = await api("/api/save", { dir: $("#save-dir").value });
      say(`saved step ${r.step} to ${r.workdir}`);
    } catch (err) { /* shown */ }
  });
  document.addEventListener("keydown", (e) => {
    if (e.code === "Space" && !["INPUT", "SELECT"].includes(document.activeElement.tagName)) {
      e.preventDefault();
      $("#play").click();
    }
  });
  // drawing data on the plot
  const plot = $("#plot");
  $("#draw").addEventListener("change", () => plot.classList.toggle("drawing", $("#draw").checked));
  let down = false;
  const add = (e) => {
    if (!$("#draw").checked || view.drawn.length >= 2000) return;
    const r = plot.getBoundingClientRect();
    const [x, y] = toData((e.clientX - r.left) * plot.width / r.width, (e.clientY - r.top) * plot.height / r.height);
    const last = view.drawn[view.drawn.length - 1];
    if (last && Math.hypot(last[0] - x, last[1] - y) < extent() / 60) return;
    view.drawn.push([x, y]);
    $("#ndrawn").textContent = view.drawn.length;
    $("#use-drawing").disabled = $("#clear-drawing").disabled = false;
    view.dirty = true;
  };
  plot.addEventListener("mousedown", (e) => { down = true; add(e); });
  plot.addEventListener("mousemove", (e) => { if (down) add(e); });
  window.addEventListener("mouseup", () => { down = false; });
  $("#use-drawing").addEventListener("click", () => {
    say(`training on ${view.drawn.length} drawn points…`);
    api("/api/points", { points: view.drawn }).catch(() => {});
  });
  $("#clear-drawing").addEventListener("click", () => {
    view.drawn = [];
    $("#ndrawn").textContent = 0;
    $("#use-drawing").disabled = $("#clear-drawing").disabled = true;
    view.dirty = true;
  });
  for (const id of ["show-surface", "show-real", "show-fake", "show-arrows"]) $(`#${id}`).addEventListener("change", () => { view.dirty = true; });
}

// -- the plot ------------------------------------------------------------------------------------------------

const extent = () => (view.snap ? view.snap.extent : 1.6);

function toPixel(x, y) {
  const e = extent(), c = $("#plot");
  return [(x + e) / (2 * e) * c.width, (e - y) / (2 * e) * c.height];
}

function toData(px, py) {
  const e = extent(), c = $("#plot");
  return [px / c.width * 2 * e - e, e - py / c.height * 2 * e];
}

const surfaceCanvas = document.createElement("canvas");

function drawSurface(ctx, snap) {
  const [h, w] = snap.surface.shape;
  const v = decode(snap.surface, Uint8Array);
  surfaceCanvas.width = w; surfaceCanvas.height = h;
  const sctx = surfaceCanvas.getContext("2d");
  const img = sctx.createImageData(w, h);
  const fake = [123, 79, 192], real = [27, 158, 90];
  for (let i = 0; i < w * h; i++) {
    const t = v[i] / 255, col = t < 0.5 ? fake : real, a = Math.sqrt(Math.abs(t - 0.5) * 2);
    img.data[4 * i] = 255 + (col[0] - 255) * a * 0.6;
    img.data[4 * i + 1] = 255 + (col[1] - 255) * a * 0.6;
    img.data[4 * i + 2] = 255 + (col[2] - 255) * a * 0.6;
    img.data[4 * i + 3] = 255;
  }
  sctx.putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(surfaceCanvas, 0, 0, ctx.canvas.width, ctx.canvas.height);
}

function drawPoints(ctx, pts, color, r) {
  ctx.fillStyle = color;
  for (let i = 0; i < pts.length; i += 2) {
    const [px, py] = toPixel(pts[i], pts[i + 1]);
    ctx.fillRect(px - r, py - r, 2 * r, 2 * r);
  }
}

function drawPlot() {
  const c = $("#plot"), ctx = c.getContext("2d"), snap = view.snap;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, c.width, c.height);
  if (!snap) return;
  if ($("#show-surface").checked) drawSurface(ctx, snap);
  // axes
  ctx.strokeStyle = "rgba(0,0,0,.12)";
  ctx.beginPath();
  const [ox, oy] = toPixel(0, 0);
  ctx.moveTo(0, oy); ctx.lineTo(c.width, oy); ctx.moveTo(ox, 0); ctx.lineTo(ox, c.height);
  ctx.stroke();
  if ($("#show-real").checked && view.real) drawPoints(ctx, view.real, "rgba(27,158,90,.55)", 1.5);
  const fake = decode(snap.samples, Float32Array);
  if ($("#show-fake").checked) drawPoints(ctx, fake, "rgba(123,79,192,.8)", 1.6);
  if ($("#show-arrows").checked) {
    const g = decode(snap.arrows, Float32Array);
    let max = 0;
    for (let i = 0; i < g.length; i += 2) max = Math.max(max, Math.hypot(g[i], g[i + 1]));
    if (max > 0) {
      ctx.strokeStyle = "rgba(20,20,20,.55)";
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (let i = 0; i < g.length; i += 2) {
        const [px, py] = toPixel(fake[i], fake[i + 1]);
        const s = 24 / max;  // the longest arrow: 24 px
        ctx.moveTo(px, py);
        ctx.lineTo(px + g[i] * s, py - g[i + 1] * s);
      }
      ctx.stroke();
    }
  }
  if (view.drawn.length) {
    ctx.fillStyle = "#e6550d";
    for (const [x, y] of view.drawn) {
      const [px, py] = toPixel(x, y);
      ctx.beginPath(); ctx.arc(px, py, 3, 0, 2 * Math.PI); ctx.fill();
    }
  }
}

// -- curves --------------------------------------------------------------------------------------------------

function drawCurves(canvas, rows, series, fixed) {
  const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height, pad = 26;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, W, H);
  if (rows.length < 1) return;
  const x0 = rows[0].step, x1 = Math.max(rows[rows.length - 1].step, x0 + 1);
  let lo = fixed ? fixed[0] : Infinity, hi = fixed ? fixed[1] : -Infinity;
  if (!fixed) {
    for (const r of rows) for (const [k] of series) if (Number.isFinite(r[k])) { lo = Math.min(lo, r[k]); hi = Math.max(hi, r[k]); }
    if (!Number.isFinite(lo)) return;
    if (hi - lo < 1e-6) { hi += 0.5; lo -= 0.5; }
  }
  const X = (s) => pad + (s - x0) / (x1 - x0) * (W - pad - 6), Y = (v) => H - 14 - (v - lo) / (hi - lo) * (H - 22);
  ctx.fillStyle = "#888"; ctx.font = "10px sans-serif";
  ctx.fillText(hi.toPrecision(3), 2, 10); ctx.fillText(lo.toPrecision(3), 2, H - 14);
  ctx.fillText(`step ${x1}`, W - 70, H - 2);
  ctx.strokeStyle = "#eee"; ctx.beginPath(); ctx.moveTo(pad, Y(lo)); ctx.lineTo(W, Y(lo)); ctx.stroke();
  for (const [k, color] of series) {
    ctx.strokeStyle = color; ctx.lineWidth = 1.4; ctx.beginPath();
    let started = false;
    for (const r of rows) {
      if (!Number.isFinite(r[k])) continue;
      if (!started) { ctx.moveTo(X(r.step), Y(r[k])); started = true; } else ctx.lineTo(X(r.step), Y(r[k]));
    }
    ctx.stroke();
  }
}

function resetCurves() {
  view.history = [];
  view.modesHistory = [];
  view.lastStep = -1;
  view.dirty = true;
}

function drawAllCurves() {
  drawCurves($("#losses"), view.history, [["d_loss", "#d95f02"], ["g_loss", "#1f78b4"]]);
  drawCurves($("#douts"), view.history, [["d_real", "#1b9e5a"], ["d_fake", "#7b4fc0"]], [0, 1]);
  const m = view.modesHistory.map((r) => ({ step: r.step, modes: r.modes / r.num_modes, hq: r.high_quality_fraction }));
  drawCurves($("#modes"), m, [["modes", "#333"], ["hq", "#e7298a"]], [0, 1]);
}

// -- snapshots -----------------------------------------------------------------------------------------------

async function loadReal(key) {
  view.dataKey = key;
  const r = await api("/api/real");
  view.real = decode(r, Float32Array);
  view.dirty = true;
}

function onSnapshot(snap) {
  const now = performance.now();
  view.arrivals.push(now);
  while (view.arrivals.length && now - view.arrivals[0] > 2000) view.arrivals.shift();
  if (snap.step < view.lastStep) resetCurves();  // a reset: the curves start again
  view.lastStep = snap.step;
  for (const row of snap.curves) {
    const last = view.history[view.history.length - 1];
    if (!last || row.step > last.step) view.history.push(row);
  }
  if (view.history.length > 6000) view.history = view.history.filter((_, i) => i % 2 === 0 || i > 3000);
  if (snap.modes) {
    const last = view.modesHistory[view.modesHistory.length - 1];
    if (!last || snap.modes.step > last.step) view.modesHistory.push(snap.modes);
  }
  if (snap.data_key !== view.dataKey) loadReal(snap.data_key).catch(() => {});
  if (JSON.stringify(snap.settings) !== JSON.stringify(view.settings)) showSettings(snap.settings);
  showPlaying(snap.playing);
  if (snap.message !== view.serverMessage) {  // a new word from the server; the page's own errors stay until then
    view.serverMessage = snap.message;
    say(snap.message, snap.message_kind);
  }
  view.snap = snap;
  view.dirty = true;
  document.body.dataset.seq = snap.seq;
  document.body.dataset.step = snap.step;
  document.body.dataset.loss = snap.settings.loss;
}

function frame() {
  if (view.dirty) {
    view.dirty = false;
    drawPlot();
    drawAllCurves();
    const s = view.snap;
    if (s) {
      $("#stepno").textContent = `step ${s.step.toLocaleString()}`;
      const last = view.history[view.history.length - 1];
      const sps = last && last.steps_per_sec ? `${Math.round(last.steps_per_sec)} steps/s · ` : "";
      const ups = view.arrivals.length > 1 ? (view.arrivals.length - 1) / ((view.arrivals[view.arrivals.length - 1] - view.arrivals[0]) / 1000) : 0;
      $("#rate").textContent = `${sps}${ups.toFixed(1)} updates/s`;
      if (s.modes) {
        const m = s.modes;
        $("#modes-text").textContent = `${m.modes}/${m.num_modes} · high quality ${(100 * m.high_quality_fraction).toFixed(1)}% · reverse KL ${m.reverse_kl === null ? "–" : m.reverse_kl.toFixed(3)}${m.ema ? " (EMA G)" : ""}`;
      } else {
        $("#modes-text").textContent = "(ring-8 and grid-25 only)";
      }
    }
  }
  requestAnimationFrame(frame);
}

function connect() {
  const es = new EventSource("/api/stream");
  es.addEventListener("snapshot", (e) => onSnapshot(JSON.parse(e.data)));
  es.onopen = () => { document.body.dataset.connected = "1"; };
  es.onerror = () => { document.body.dataset.connected = "0"; say("lost the server; reconnecting…", "error"); };
}

async function start() {
  wireControls();
  const st = await api("/api/state");
  fillChoices(st.choices);
  showSettings(st.settings);
  view.history = st.history;
  view.modesHistory = st.modes_history;
  if (st.snapshot) onSnapshot(st.snapshot);
  connect();
  requestAnimationFrame(frame);
}

start();
