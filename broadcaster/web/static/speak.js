// Nói trực tiếp: the microphone → 20-ms frames at 16 kHz → Opus packets (WebCodecs; else the 16-bit
// samples themselves, 8 times the size) → small POSTs every 100 ms.
(() => {
  const form = document.querySelector("[data-speak]");
  if (!form) return;
  const csrf = form.querySelector("input[name=csrf]").value;
  const say = (text) => { const e = document.getElementById("speak-error"); e.textContent = text; e.hidden = !text; };
  const FRAME = 320, RATE = 16000;
  let ctx = null, stream = null, sid = null, seq = 0, pending = [], rest = new Float32Array(0), timer = null, began = 0;
  let sending = false, watch = null;   // one POST at a time: the frames reach the station in order
  let encoder = null, tap = null;      // Opus by the browser's own encoder, where it has one
  let phase = 0;                       // where the next 16-kHz sample falls in the coming block of samples

  async function opusEncoder() {
    const config = {codec: "opus", sampleRate: RATE, numberOfChannels: 1, bitrate: 24000,
                    opus: {frameDuration: 20000, complexity: 5}};
    try {
      if (!window.AudioEncoder || !(await AudioEncoder.isConfigSupported(config)).supported) return null;
      const e = new AudioEncoder({
        output: (chunk) => {
          const packet = new Uint8Array(6 + chunk.byteLength);
          const head = new DataView(packet.buffer);
          head.setUint32(0, Math.round((chunk.timestamp * RATE) / 1e6 / FRAME));   // the frame's number
          head.setUint16(4, chunk.byteLength);
          chunk.copyTo(packet.subarray(6));
          packet.opus = true;
          pending.push(packet);
        },
        error: () => { encoder = null; },   // what is left goes as samples
      });
      e.configure(config);
      return e;
    } catch (e) { return null; }
  }

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
    sid = data.sid; seq = 0; phase = 0; rest = new Float32Array(0); began = Date.now();
    document.getElementById("on-air-zones").textContent = data.zones.join(", ");
    document.getElementById("on-air").hidden = false;
    document.getElementById("talk").hidden = true;
    document.getElementById("stop-talk").hidden = false;
    if (data.chime) await new Promise((r) => setTimeout(r, (data.chime + 0.8) * 1000));   // the chime first
    ctx = new AudioContext();
    await ctx.audioWorklet.addModule("/static/mic-worklet.js");
    tap = new AudioWorkletNode(ctx, "mic-tap");
    ctx.createMediaStreamSource(stream).connect(tap);
    const ratio = ctx.sampleRate / RATE;
    encoder = await opusEncoder();
    tap.port.onmessage = (ev) => {
      const x = ev.data;
      let peak = 0;
      for (const v of x) peak = Math.max(peak, Math.abs(v));
      document.getElementById("level").style.width = Math.min(100, Math.round(peak * 140)) + "%";
      // to 16 kHz: each sample the mean of the ones it stands for (a low-pass before dropping samples),
      // the fractional position carried from block to block (so no time is lost between blocks)
      const got = [];
      for (; phase < x.length; phase += ratio) {
        const a = Math.floor(phase), b = Math.min(x.length, Math.max(a + 1, Math.floor(phase + ratio)));
        let sum = 0;
        for (let k = a; k < b; k++) sum += x[k];
        got.push(sum / (b - a));
      }
      phase -= x.length;
      const joined = new Float32Array(rest.length + got.length);
      joined.set(rest);
      joined.set(got, rest.length);
      let at = 0;
      for (; at + FRAME <= joined.length; at += FRAME) {
        if (encoder) {
          const data = new AudioData({format: "f32", sampleRate: RATE, numberOfFrames: FRAME, numberOfChannels: 1,
                                      timestamp: (seq++ * FRAME * 1e6) / RATE, data: joined.slice(at, at + FRAME)});
          encoder.encode(data);
          data.close();
          continue;
        }
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
    const opus = !!pending[0].opus;   // (a POST carries one kind: the encoder may have failed half-way)
    const frames = [];
    while (pending.length && frames.length < 64 && !!pending[0].opus === opus) frames.push(pending.shift());
    const body = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    frames.reduce((at, f) => { body.set(f, at); return at + f.length; }, 0);
    try {
      const r = await fetch(`/speak/${sid}/${opus ? "opus" : "audio"}`, {method: "POST", body,
        headers: {"X-CSRF-Token": csrf, "Content-Type": "application/octet-stream"}});
      if (r.status === 410) { say((await r.json()).error); stop(); }
    } catch (e) { /* the network hiccupped: the next POST carries on (the station logs the gap) */ }
    sending = false;
  }

  async function stop() {
    clearInterval(timer);
    clearInterval(watch);
    if (tap) tap.port.onmessage = null;
    if (encoder) { try { await encoder.flush(); } catch (e) { /* nothing more to send */ } encoder = null; }
    while (sending) await new Promise((r) => setTimeout(r, 20));
    while (sid && pending.length) await send();   // all that is left (a POST carries 64 at most, of one kind)
    if (stream) stream.getTracks().forEach((t) => t.stop());
    if (ctx) await ctx.close();
    if (sid) await fetch(`/speak/${sid}/end`, {method: "POST", headers: {"X-CSRF-Token": csrf}});
    sid = null; ctx = null; stream = null; tap = null;
    document.getElementById("on-air").hidden = true;
    document.getElementById("talk").hidden = false;
    document.getElementById("stop-talk").hidden = true;
  }

  document.getElementById("talk").addEventListener("click", start);
  document.getElementById("stop-talk").addEventListener("click", stop);
})();
