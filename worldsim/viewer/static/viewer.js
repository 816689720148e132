// worldsim viewer: a dynamic 3D Gaussian scene splatted on a 2D canvas (projected, depth-sorted, front-to-back
// alpha compositing with the same EWA projection as worldsim.render.rasterize / gsplat), the input video with
// its boxes, a time slider, language queries and edits. Live mode talks to `worldsim view`; offline mode
// (an exported HTML file) reads everything from the embedded #ws-data script.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const MODE = document.querySelector('meta[name="worldsim-mode"]').content;
  const RENDER_SIZE = 256; // longest side of the render canvas, in pixels
  const ALPHA_MIN = 1 / 255, ALPHA_MAX = 0.999, T_MIN = 1e-4, EPS2D = 0.3, EXTEND = 3.33;
  const HIGHLIGHT = [1, 0, 1];

  const V = (window.worldsimViewer = {
    ready: false, busy: 0, frame: 0, frames: 0, version: null, source: "reconstruction",
    renders: 0, lastRenderMs: 0, highlight: null, state: null, scene: null, error: null,
  });

  // ---------------------------------------------------------------- data sources
  const embedded = MODE === "offline" ? JSON.parse($("ws-data").textContent) : null;

  function b64bytes(s) {
    const bin = atob(s), out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  async function api(path, body) {
    const init = body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
    const r = await fetch(path, init);
    const type = r.headers.get("Content-Type") || "";
    if (!r.ok) {
      let line = `worldsim: error: HTTP ${r.status}`;
      if (type.includes("json")) line = (await r.json()).error || line;
      throw new Error(line);
    }
    return type.includes("json") ? r.json() : new Uint8Array(await r.arrayBuffer());
  }
  const Live = {
    state: (v) => api(`/api/state?version=${encodeURIComponent(v || "")}`.replace(/\?version=$/, "")),
    scene: (v, s) => api(`/api/scene?version=${encodeURIComponent(v)}&source=${encodeURIComponent(s)}`),
    frames: (v) => api(`/api/frames?version=${encodeURIComponent(v)}`).then((d) => d.frames),
    query: (v, text) => api("/api/query", { version: v, text }),
    edit: (v, text) => api("/api/edit", { version: v, text }),
  };
  const Offline = {
    state: async (v) => embedded.states[v || embedded.start],
    scene: async (v, s) => {
      const b = (embedded.scenes[v] || {})[s];
      if (!b) throw new Error(`worldsim: error: run folder '${v}' has no ${s === "ground_truth" ? "ground-truth scene" : "reconstruction"} in this export`);
      return b64bytes(b);
    },
    frames: async (v) => embedded.frames[embedded.states[v].video_root] || [],
    query: async (v, text) => {
      let key = text.split(/\s+/).join(" ").replace(/^[\s.!?]+|[\s.!?]+$/g, "").toLowerCase();
      for (const a of ["the ", "a ", "an "]) if (key.startsWith(a)) key = key.slice(a.length);
      if (!key) throw new Error("worldsim: error: the query is empty; type an object of the scene, e.g. 'the ball'");
      const sels = embedded.selections[v] || [];
      const hit = sels.find((s) => s.names.includes(key));
      if (!hit) {
        const present = sels.map((s) => s.target).join(", ") || "none";
        throw new Error(`worldsim: error: no '${key}' in this scene; objects: ${present}`);
      }
      return hit;
    },
    edit: async () => { throw new Error("worldsim: error: edits need the live viewer; run `worldsim view RUN` and edit there"); },
  };
  const source = MODE === "offline" ? Offline : Live;

  // ---------------------------------------------------------------- messages
  function say(text, kind) {
    const m = $("message");
    m.textContent = text;
    m.className = kind || "";
    V.error = kind === "error" ? text : null;
  }
  async function guarded(fn) {
    V.busy++;
    try { return await fn(); }
    catch (e) { say(String(e.message || e).split("\n")[0], "error"); return undefined; }
    finally { V.busy--; }
  }

  // ---------------------------------------------------------------- scene
  function unpack(bytes) {
    const magic = String.fromCharCode(...bytes.slice(0, 4));
    if (magic !== "WSV1") throw new Error("worldsim: error: the scene data is not a worldsim viewer scene (bad magic)");
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const hlen = dv.getUint32(4, true);
    const header = JSON.parse(new TextDecoder().decode(bytes.slice(8, 8 + hlen)));
    const base = bytes.byteOffset + 8 + hlen;
    const buf = bytes.buffer.slice(base, bytes.byteOffset + bytes.byteLength); // aligned copy
    const arr = {};
    for (const [name, [off, count, dtype]] of Object.entries(header.arrays)) {
      const C = dtype === "float32" ? Float32Array : dtype === "int32" ? Int32Array : Uint8Array;
      arr[name] = new C(buf, off, count);
    }
    return { n: header.n, t: header.t, target: header.target, source: header.source, ...arr };
  }

  // Camera: base world-to-camera [R0|t0] (the input camera, per frame when it moves), then an orbit about
  // the target (yaw, pitch), a pan and a dolly, all in camera space.
  const view = { yaw: 0, pitch: 0, panX: 0, panY: 0, zoom: 1 };
  function resetView() { Object.assign(view, { yaw: 0, pitch: 0, panX: 0, panY: 0, zoom: 1 }); }

  function cameraAt(t) {
    const vid = V.state.video || {};
    const follow = $("follow").checked && vid.cameras && vid.cameras[t];
    const cam = follow ? vid.cameras[t] : vid.camera || defaultCamera();
    return cam;
  }
  function defaultCamera() {
    const f = 0.5 * 128 / Math.tan((50 * Math.PI) / 360);
    return { width: 128, height: 128, viewmat: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], K: [[f, 0, 64], [0, f, 64], [0, 0, 1]] };
  }
  function composedView(cam, target) {
    const M = cam.viewmat, R0 = [M[0].slice(0, 3), M[1].slice(0, 3), M[2].slice(0, 3)], t0 = [M[0][3], M[1][3], M[2][3]];
    const tg = target || [0, 0, 5];
    const c = [0, 1, 2].map((i) => R0[i][0] * tg[0] + R0[i][1] * tg[1] + R0[i][2] * tg[2] + t0[i]);
    const cy = Math.cos(view.yaw), sy = Math.sin(view.yaw), cp = Math.cos(view.pitch), sp = Math.sin(view.pitch);
    // Ro = Rx(pitch) * Ry(yaw)
    const Ro = [[cy, 0, sy], [sp * sy, cp, -sp * cy], [-cp * sy, sp, cp * cy]];
    const R = [0, 1, 2].map((i) => [0, 1, 2].map((j) => Ro[i][0] * R0[0][j] + Ro[i][1] * R0[1][j] + Ro[i][2] * R0[2][j]));
    const d = [t0[0] - c[0], t0[1] - c[1], t0[2] - c[2]];
    const c2 = [c[0] + view.panX * c[2], c[1] + view.panY * c[2], c[2] * view.zoom];
    const t = [0, 1, 2].map((i) => Ro[i][0] * d[0] + Ro[i][1] * d[1] + Ro[i][2] * d[2] + c2[i]);
    return { R, t };
  }

  let buffers = null;
  function ensureBuffers(n, W, H) {
    if (!buffers || buffers.n < n) {
      buffers = Object.assign(buffers || {}, {
        n, u: new Float32Array(n), v: new Float32Array(n), ca: new Float32Array(n), cb: new Float32Array(n),
        cc: new Float32Array(n), rx: new Int32Array(n), ry: new Int32Array(n), z: new Float32Array(n),
        vis: new Uint32Array(n), order: new Uint32Array(n), keys: new Uint16Array(n),
      });
    }
    if (!buffers.W || buffers.W !== W || buffers.H !== H) {
      buffers.W = W; buffers.H = H;
      buffers.col = new Float32Array(W * H * 3);
      buffers.trans = new Float32Array(W * H);
      buffers.counts = new Uint32Array(65537);
    }
    return buffers;
  }

  function render() {
    const S = V.scene, canvas = $("scene");
    if (!S) return;
    const t0 = performance.now();
    const t = Math.min(V.frame, S.t - 1);
    const cam = cameraAt(t);
    const scale = Math.max(1, Math.round(RENDER_SIZE / Math.max(cam.width, cam.height)));
    const W = cam.width * scale, H = cam.height * scale;
    if (canvas.width !== W || canvas.height !== H) { canvas.width = W; canvas.height = H; }
    const fx = cam.K[0][0] * scale, fy = cam.K[1][1] * scale, cx = cam.K[0][2] * scale, cy = cam.K[1][2] * scale;
    const { R, t: tv } = composedView(cam, S.target);
    const n = S.n, B = ensureBuffers(n, W, H);
    const means = S.means, quats = S.quats, scales = S.scales, opac = S.opacity;
    const mo = t * n * 3, qo = t * n * 4;
    const limX = cx / fx + 0.15 * W / fx, limX2 = (W - cx) / fx + 0.15 * W / fx;
    const limY = cy / fy + 0.15 * H / fy, limY2 = (H - cy) / fy + 0.15 * H / fy;
    let nv = 0, zmin = Infinity, zmax = -Infinity;
    const R00 = R[0][0], R01 = R[0][1], R02 = R[0][2], R10 = R[1][0], R11 = R[1][1], R12 = R[1][2], R20 = R[2][0], R21 = R[2][1], R22 = R[2][2];
    for (let i = 0; i < n; i++) {
      const op = opac[i];
      if (op < ALPHA_MIN) continue;
      const px = means[mo + 3 * i], py = means[mo + 3 * i + 1], pz = means[mo + 3 * i + 2];
      const x = R00 * px + R01 * py + R02 * pz + tv[0], y = R10 * px + R11 * py + R12 * pz + tv[1], z = R20 * px + R21 * py + R22 * pz + tv[2];
      if (!(z > 0.01)) continue;
      // rotation of the Gaussian (wxyz), times its scales: M = Rq S; camera-space B = R M; A = J B
      let qw = quats[qo + 4 * i], qx = quats[qo + 4 * i + 1], qy = quats[qo + 4 * i + 2], qz = quats[qo + 4 * i + 3];
      const sx = scales[3 * i], sy = scales[3 * i + 1], sz = scales[3 * i + 2];
      const m00 = (1 - 2 * (qy * qy + qz * qz)) * sx, m01 = 2 * (qx * qy - qw * qz) * sy, m02 = 2 * (qx * qz + qw * qy) * sz;
      const m10 = 2 * (qx * qy + qw * qz) * sx, m11 = (1 - 2 * (qx * qx + qz * qz)) * sy, m12 = 2 * (qy * qz - qw * qx) * sz;
      const m20 = 2 * (qx * qz - qw * qy) * sx, m21 = 2 * (qy * qz + qw * qx) * sy, m22 = (1 - 2 * (qx * qx + qy * qy)) * sz;
      const b00 = R00 * m00 + R01 * m10 + R02 * m20, b01 = R00 * m01 + R01 * m11 + R02 * m21, b02 = R00 * m02 + R01 * m12 + R02 * m22;
      const b10 = R10 * m00 + R11 * m10 + R12 * m20, b11 = R10 * m01 + R11 * m11 + R12 * m21, b12 = R10 * m02 + R11 * m12 + R12 * m22;
      const b20 = R20 * m00 + R21 * m10 + R22 * m20, b21 = R20 * m01 + R21 * m11 + R22 * m21, b22 = R20 * m02 + R21 * m12 + R22 * m22;
      const uu = Math.min(Math.max(x / z, -limX), limX2), vv = Math.min(Math.max(y / z, -limY), limY2);
      const j00 = fx / z, j02 = -fx * uu / z, j11 = fy / z, j12 = -fy * vv / z;
      const a0 = j00 * b00 + j02 * b20, a1 = j00 * b01 + j02 * b21, a2 = j00 * b02 + j02 * b22;
      const c0 = j11 * b10 + j12 * b20, c1 = j11 * b11 + j12 * b21, c2 = j11 * b12 + j12 * b22;
      const ca = a0 * a0 + a1 * a1 + a2 * a2 + EPS2D, cb = a0 * c0 + a1 * c1 + a2 * c2, cc = c0 * c0 + c1 * c1 + c2 * c2 + EPS2D;
      const det = ca * cc - cb * cb;
      if (!(det > 0)) continue;
      const ext = Math.min(EXTEND, Math.sqrt(2 * Math.log(op / ALPHA_MIN)));
      const rx = Math.ceil(ext * Math.sqrt(ca)), ry = Math.ceil(ext * Math.sqrt(cc));
      const u = fx * x / z + cx, v = fy * y / z + cy;
      if (u + rx <= 0 || u - rx >= W || v + ry <= 0 || v - ry >= H) continue;
      B.u[i] = u; B.v[i] = v; B.ca[i] = cc / det; B.cb[i] = -cb / det; B.cc[i] = ca / det;
      B.rx[i] = rx; B.ry[i] = ry; B.z[i] = z;
      B.vis[nv++] = i;
      if (z < zmin) zmin = z;
      if (z > zmax) zmax = z;
    }
    // depth order: a stable counting sort on 16-bit depth keys (front first)
    const counts = B.counts; counts.fill(0);
    const span = zmax > zmin ? 65535 / (zmax - zmin) : 0;
    for (let k = 0; k < nv; k++) { const key = ((B.z[B.vis[k]] - zmin) * span) | 0; B.keys[k] = key; counts[key + 1]++; }
    for (let k = 1; k < 65537; k++) counts[k] += counts[k - 1];
    for (let k = 0; k < nv; k++) B.order[counts[B.keys[k]]++] = B.vis[k];

    const col = B.col, trans = B.trans; col.fill(0); trans.fill(1);
    const rgb = S.rgb, hl = V.source === "reconstruction" ? V.highlight : null;
    for (let k = 0; k < nv; k++) {
      const i = B.order[k];
      let r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
      if (hl) {
        if (hl[i]) { r = HIGHLIGHT[0]; g = HIGHLIGHT[1]; b = HIGHLIGHT[2]; }
        else { const l = 0.3 * (0.299 * r + 0.587 * g + 0.114 * b); r = g = b = l; }
      }
      const u = B.u[i], v = B.v[i], A = B.ca[i], Bc = B.cb[i], C = B.cc[i], op = opac[i];
      const x0 = Math.max(0, Math.floor(u - B.rx[i])), x1 = Math.min(W - 1, Math.ceil(u + B.rx[i]));
      const y0 = Math.max(0, Math.floor(v - B.ry[i])), y1 = Math.min(H - 1, Math.ceil(v + B.ry[i]));
      for (let py = y0; py <= y1; py++) {
        const dy = py + 0.5 - v, row = py * W;
        for (let px = x0; px <= x1; px++) {
          const p = row + px, T = trans[p];
          if (T === 0) continue;
          const dx = px + 0.5 - u;
          const power = -0.5 * (A * dx * dx + C * dy * dy) - Bc * dx * dy;
          if (power > 0) continue;
          let a = op * Math.exp(power);
          if (a < ALPHA_MIN) continue;
          if (a > ALPHA_MAX) a = ALPHA_MAX;
          const nt = T * (1 - a);
          if (nt <= T_MIN) { trans[p] = 0; continue; }
          const w = a * T;
          col[3 * p] += w * r; col[3 * p + 1] += w * g; col[3 * p + 2] += w * b;
          trans[p] = nt;
        }
      }
    }
    const ctx = canvas.getContext("2d");
    if (!B.img || B.img.width !== W || B.img.height !== H) B.img = ctx.createImageData(W, H);
    const img = B.img, d = img.data;
    for (let p = 0, q = 0; p < W * H; p++, q += 4) {
      d[q] = Math.min(255, col[3 * p] * 255 + 0.5); d[q + 1] = Math.min(255, col[3 * p + 1] * 255 + 0.5);
      d[q + 2] = Math.min(255, col[3 * p + 2] * 255 + 0.5); d[q + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    V.lastRenderMs = performance.now() - t0;
    V.renders++;
    V.renderedFrame = t;
    $("stats").textContent = `${n.toLocaleString()} Gaussians, ${V.lastRenderMs.toFixed(0)} ms`;
  }

  // ---------------------------------------------------------------- video and boxes
  let images = [];
  function drawVideo() {
    const canvas = $("video"), ctx = canvas.getContext("2d"), vid = (V.state && V.state.video) || {};
    const W = vid.width || 128, H = vid.height || 128;
    const scale = Math.max(1, Math.round(RENDER_SIZE / Math.max(W, H)));
    if (canvas.width !== W * scale || canvas.height !== H * scale) { canvas.width = W * scale; canvas.height = H * scale; }
    ctx.fillStyle = "#000"; ctx.fillRect(0, 0, canvas.width, canvas.height);
    const im = images[V.frame];
    if (im && im.complete && im.naturalWidth) { ctx.imageSmoothingEnabled = false; ctx.drawImage(im, 0, 0, canvas.width, canvas.height); }
    ctx.lineWidth = 2; ctx.font = "12px sans-serif";
    for (const o of vid.objects || []) {
      const f = o.frames.find((x) => x.t === V.frame);
      if (!f) continue;
      const box = (b, style, dash) => {
        if (!b) return;
        ctx.strokeStyle = style; ctx.setLineDash(dash);
        ctx.strokeRect(b[0] * canvas.width, b[1] * canvas.height, (b[2] - b[0]) * canvas.width, (b[3] - b[1]) * canvas.height);
      };
      box(f.planned_box, "#fd3", [6, 4]);
      box(f.box, "#3f3", []);
      const b = f.box || f.planned_box;
      if (b) { ctx.setLineDash([]); ctx.fillStyle = "#3f3"; ctx.fillText(`${o.color || ""} ${o.name}`.trim(), b[0] * canvas.width + 2, Math.max(12, b[1] * canvas.height - 3)); }
    }
  }

  // ---------------------------------------------------------------- time
  let timer = null;
  function setFrame(t) {
    const T = V.frames || 1;
    t = Math.max(0, Math.min(T - 1, Math.round(Number(t) || 0)));
    V.frame = t;
    $("time").value = String(t);
    $("frame-label").textContent = `frame ${t} / ${T - 1}`;
    render();
    drawVideo();
    if (MODE === "live" && V.version) history.replaceState(null, "", `?version=${encodeURIComponent(V.version)}#t=${t}`);
  }
  V.setFrame = setFrame;
  function play() {
    if (timer) { clearInterval(timer); timer = null; $("play").innerHTML = "&#9654;"; return; }
    const fps = ((V.state && V.state.video) || {}).fps || 8;
    $("play").innerHTML = "&#10074;&#10074;";
    timer = setInterval(() => setFrame((V.frame + 1) % V.frames), 1000 / fps);
  }

  // ---------------------------------------------------------------- side panel
  function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; }
  function panel() {
    const s = V.state;
    $("prompt").textContent = s.versions.find((v) => v.name === s.version)?.prompt || "";
    const sel = $("version"); sel.replaceChildren();
    for (const v of s.versions) {
      const o = el("option", `${v.name}${v.parent ? "  (edit of " + v.parent + ")" : ""}`); o.value = v.name;
      if (!v.has_scene) o.disabled = true;
      sel.appendChild(o);
    }
    sel.value = s.version;
    const me = s.versions.find((v) => v.name === s.version) || {};
    $("source").querySelector('option[value="ground_truth"]').disabled = !me.has_ground_truth;
    const objs = $("objects"); objs.replaceChildren();
    for (const o of s.registry.objects) {
      const li = el("li", `#${o.id} ${o.color || ""} ${o.name}${o.gaussians ? " (" + o.gaussians + " Gaussians)" : ""}${o.removed ? " removed" : ""}`, o.removed ? "removed" : "");
      if (s.registry.last_referenced === o.name) li.textContent += "  <- it";
      objs.appendChild(li);
    }
    const hist = $("history"); hist.replaceChildren();
    s.registry.history.forEach((name, k) => {
      const v = s.versions.find((x) => x.name === name);
      const li = el("li", `${name}${v && v.edits && v.edits.length ? ": " + v.edits.join("; ") : k === 0 ? ": generated" : ""}`, name === s.version ? "current" : "");
      hist.appendChild(li);
    });
    const vers = $("versions"); vers.replaceChildren();
    for (const v of s.versions) {
      const li = el("li", undefined, v.name === s.version ? "current" : "");
      const a = el("a", v.name); a.onclick = () => switchVersion(v.name); li.appendChild(a);
      li.appendChild(document.createTextNode(v.parent ? ` <- ${v.parent}` : " (root)"));
      vers.appendChild(li);
    }
    const met = $("metrics"); met.replaceChildren();
    const table = el("table");
    const walk = (obj, prefix) => {
      for (const [k, val] of Object.entries(obj)) {
        if (val && typeof val === "object") walk(val, prefix + k + ".");
        else { const tr = el("tr"); tr.appendChild(el("td", prefix + k)); tr.appendChild(el("td", String(val))); table.appendChild(tr); }
      }
    };
    walk(s.scores.metrics || {}, "");
    met.appendChild(table);
    const qa = $("qa"); qa.replaceChildren();
    for (const q of s.scores.qa || []) {
      const li = el("li", `${q.question} — ${q.answer}`);
      for (const a of q.answers) li.appendChild(el("div", `${a.correct ? "right" : "wrong"} (${a.mode}${a.free_form ? ", free-form" : ""}): ${a.raw}`, a.correct ? "right" : "wrong"));
      qa.appendChild(li);
    }
    $("ops").textContent = s.ops && s.ops.length ? `edit ops: ${s.ops.join(", ")}` : "";
    $("edit").disabled = MODE === "offline";
  }

  // ---------------------------------------------------------------- loading
  async function loadVersion(name) {
    const state = await source.state(name);
    const bytes = await source.scene(state.version, V.source === "ground_truth" && state.versions.find((v) => v.name === state.version)?.has_ground_truth ? "ground_truth" : "reconstruction");
    const scene = unpack(bytes);
    const frames = await source.frames(state.version);
    V.state = state; V.version = state.version; V.scene = scene; V.highlight = null;
    V.source = scene.source || "reconstruction";
    $("source").value = V.source;
    V.frames = scene.t;
    $("time").max = String(scene.t - 1);
    images = frames.map((src) => { const im = new Image(); im.onload = () => { if (images[V.frame] === im) drawVideo(); }; im.src = src; return im; });
    panel();
    setFrame(V.frame);
  }
  async function switchVersion(name) {
    await guarded(async () => { say(`loading ${name} ...`); await loadVersion(name); say(`version ${name}`, "ok"); });
  }
  async function switchSource(src) {
    await guarded(async () => {
      const bytes = await source.scene(V.version, src);
      V.scene = unpack(bytes); V.source = src; V.frames = V.scene.t; $("time").max = String(V.scene.t - 1);
      setFrame(V.frame);
      say(`showing the ${src === "ground_truth" ? "ground-truth scene" : "reconstruction"}`, "ok");
    });
  }

  // ---------------------------------------------------------------- commands
  async function highlight() {
    const text = $("command").value;
    await guarded(async () => {
      say(`selecting '${text}' ...`);
      const r = await source.query(V.version, text);
      const bits = b64bytes(r.mask), mask = new Uint8Array(V.scene.n);
      for (let i = 0; i < mask.length; i++) mask[i] = (bits[i >> 3] >> (i & 7)) & 1;
      if (V.source !== "reconstruction") { V.source = "reconstruction"; $("source").value = V.source; V.scene = unpack(await source.scene(V.version, "reconstruction")); }
      V.highlight = mask;
      render();
      say(`highlighted ${r.selected} of ${r.gaussians} Gaussians: ${r.target} (threshold ${r.threshold})`, "ok");
    });
  }
  async function edit() {
    const text = $("command").value;
    await guarded(async () => {
      say(`editing: ${text} ... (this writes a new version)`);
      const r = await source.edit(V.version, text);
      await loadVersion(r.version);
      say(`new version ${r.version} (parent ${r.parent})`, "ok");
    });
  }
  function looksLikeQuery(text) {
    const words = text.trim().toLowerCase().split(/\s+/);
    const verbs = /^(make|turn|paint|colou?r|recolou?r|delete|remove|erase|extract|keep|isolate|move|now|scale|shrink|grow|enlarge|double|halve|change|set)$/;
    return words.length <= 4 && !verbs.test(words[0]);
  }

  // ---------------------------------------------------------------- input
  function bind() {
    $("time").addEventListener("input", (e) => setFrame(e.target.value));
    $("prev").onclick = () => setFrame(V.frame - 1);
    $("next").onclick = () => setFrame(V.frame + 1);
    $("play").onclick = play;
    $("reset").onclick = () => { resetView(); render(); };
    $("follow").onchange = () => render();
    $("version").onchange = (e) => switchVersion(e.target.value);
    $("source").onchange = (e) => switchSource(e.target.value);
    $("highlight").onclick = highlight;
    $("edit").onclick = edit;
    $("clear").onclick = () => { V.highlight = null; render(); say(""); };
    $("command-form").onsubmit = (e) => { e.preventDefault(); (looksLikeQuery($("command").value) ? highlight : edit)(); };
    const c = $("scene");
    let drag = null;
    c.addEventListener("contextmenu", (e) => e.preventDefault());
    c.addEventListener("pointerdown", (e) => { drag = { x: e.clientX, y: e.clientY, pan: e.shiftKey || e.button === 2 }; c.setPointerCapture(e.pointerId); });
    c.addEventListener("pointerup", () => { drag = null; });
    c.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y; drag.x = e.clientX; drag.y = e.clientY;
      if (drag.pan) { view.panX += dx / 400; view.panY += dy / 400; }
      else { view.yaw += dx * 0.01; view.pitch = Math.max(-1.5, Math.min(1.5, view.pitch - dy * 0.01)); }
      render();
    });
    c.addEventListener("wheel", (e) => { e.preventDefault(); view.zoom = Math.max(0.2, Math.min(5, view.zoom * Math.exp(e.deltaY * 0.001))); render(); }, { passive: false });
    c.addEventListener("dblclick", () => { resetView(); render(); });
    window.addEventListener("keydown", (e) => {
      if (e.target.tagName === "INPUT" && e.target.type === "text") return;
      if (e.key === "ArrowRight") setFrame(V.frame + 1);
      else if (e.key === "ArrowLeft") setFrame(V.frame - 1);
      else if (e.key === " ") { e.preventDefault(); play(); }
    });
    window.addEventListener("hashchange", () => { const t = frameFromUrl(); if (t !== null) setFrame(t); });
  }
  function frameFromUrl() {
    const h = new URLSearchParams(location.hash.replace(/^#/, "")), q = new URLSearchParams(location.search);
    const raw = h.get("t") ?? q.get("t");
    if (raw === null) return null;
    if (!/^\d+$/.test(raw)) { say(`worldsim: error: frame '${raw.slice(0, 20)}' is not a whole number`, "error"); return null; }
    return Number(raw);
  }

  async function main() {
    bind();
    V.busy++;
    try {
      const q = new URLSearchParams(location.search);
      const t = frameFromUrl();
      if (t !== null) V.frame = t;
      V.t0 = performance.now();
      await loadVersion(q.get("version") || (embedded ? embedded.start : null));
      if (t !== null && t > V.frames - 1) say(`worldsim: error: frame ${t} is out of range; the scene has ${V.frames} frames (0-${V.frames - 1})`, "error");
      V.firstFrameMs = performance.now() - V.t0;
      V.ready = true;
    } catch (e) {
      say(String(e.message || e).split("\n")[0], "error");
    } finally { V.busy--; }
  }
  main();
})();
