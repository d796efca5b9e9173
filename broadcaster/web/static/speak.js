// Nói trực tiếp: the microphone → 20-ms frames of 16-bit samples at 16 kHz → small POSTs every 100 ms.
(() => {
  const form = document.querySelector("[data-speak]");
  if (!form) return;
  const csrf = form.querySelector("input[name=csrf]").value;
  const say = (text) => { const e = document.getElementById("speak-error"); e.textContent = text; e.hidden = !text; };
  const FRAME = 320, RATE = 16000;
  let ctx = null, stream = null, sid = null, seq = 0, pending = [], rest = new Float32Array(0), timer = null, began = 0;
  let sending = false, watch = null;   // one POST at a time: the frames reach the station in order

  async function start() {
    say("");
    const body = new FormData(form);
    if (!navigator.mediaDevices) { say(document.documentElement.lang === "vi" ? "Trình duyệt chỉ cho dùng micro qua HTTPS." : "The browser gives the microphone over HTTPS only."); return; }
    try {
      stream = await navigator.mediaDevices.getUserMedia({audio: {echoCancellation: true, noiseSuppression: true}});
    } catch (e) { say(String(e)); return; }
    const r = await fetch("/speak/start", {method: "POST", body, headers: {"X-CSRF-Token": csrf}});
    const data = await r.json();
    if (!r.ok) { say(data.error); stream.getTracks().forEach((t) => t.stop()); return; }
    sid = data.sid; seq = 0; began = Date.now();
    document.getElementById("on-air-zones").textContent = data.zones.join(", ");
    document.getElementById("on-air").hidden = false;
    document.getElementById("talk").hidden = true;
    document.getElementById("stop-talk").hidden = false;
    if (data.chime) await new Promise((r) => setTimeout(r, (data.chime + 0.8) * 1000));   // the chime first
    ctx = new AudioContext();
    await ctx.audioWorklet.addModule("/static/mic-worklet.js");
    const tap = new AudioWorkletNode(ctx, "mic-tap");
    ctx.createMediaStreamSource(stream).connect(tap);
    const ratio = ctx.sampleRate / RATE;
    tap.port.onmessage = (ev) => {
      const x = ev.data;
      let peak = 0;
      for (const v of x) peak = Math.max(peak, Math.abs(v));
      document.getElementById("level").style.width = Math.min(100, Math.round(peak * 140)) + "%";
      const n = Math.floor(x.length / ratio);
      const joined = new Float32Array(rest.length + n);
      joined.set(rest);
      for (let i = 0; i < n; i++) joined[rest.length + i] = x[Math.min(x.length - 1, Math.floor(i * ratio))];
      let at = 0;
      for (; at + FRAME <= joined.length; at += FRAME) {
        const frame = new DataView(new ArrayBuffer(4 + FRAME * 2));
        frame.setUint32(0, seq++);
        for (let i = 0; i < FRAME; i++) frame.setInt16(4 + i * 2, Math.max(-1, Math.min(1, joined[at + i])) * 32767, true);
        pending.push(new Uint8Array(frame.buffer));
      }
      rest = joined.slice(at);
    };
    timer = setInterval(send, 100);
    watch = setInterval(onAir, 3000);
  }

  async function onAir() {   // which of the chosen zones play the voice now (a station's from its heartbeat)
    if (!sid) return;
    try {
      const r = await fetch(`/speak/${sid}/status`);
      if (!r.ok) return;
      const data = await r.json();
      const on = new Set(data.on_air);
      document.getElementById("on-air-zones").textContent =
        data.zones.map((z) => (on.has(z) ? "● " : "○ ") + z).join(", ") + ` (${on.size}/${data.zones.length})`;
    } catch (e) { /* asked again in 3 s */ }
  }

  async function send() {
    const s = Math.floor((Date.now() - began) / 1000);
    document.getElementById("talk-time").textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
    if (!sid || !pending.length || sending) return;
    sending = true;
    const frames = pending.splice(0, 64);
    const body = new Uint8Array(frames.length * frames[0].length);
    frames.forEach((f, i) => body.set(f, i * f.length));
    try {
      const r = await fetch(`/speak/${sid}/audio`, {method: "POST", body,
        headers: {"X-CSRF-Token": csrf, "Content-Type": "application/octet-stream"}});
      if (r.status === 410) { say((await r.json()).error); stop(); }
    } catch (e) { /* the network hiccupped: the next POST carries on (the station logs the gap) */ }
    sending = false;
  }

  async function stop() {
    clearInterval(timer);
    clearInterval(watch);
    while (sending) await new Promise((r) => setTimeout(r, 20));
    await send();
    if (stream) stream.getTracks().forEach((t) => t.stop());
    if (ctx) await ctx.close();
    if (sid) await fetch(`/speak/${sid}/end`, {method: "POST", headers: {"X-CSRF-Token": csrf}});
    sid = null; ctx = null; stream = null;
    document.getElementById("on-air").hidden = true;
    document.getElementById("talk").hidden = false;
    document.getElementById("stop-talk").hidden = true;
  }

  document.getElementById("talk").addEventListener("click", start);
  document.getElementById("stop-talk").addEventListener("click", stop);
})();
