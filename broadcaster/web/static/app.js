// The console's live parts: the overview refreshes itself, and the editor shows the reading as you type.
"use strict";
const csrf = () => document.querySelector("main").dataset.csrf;

const live = document.querySelector("[data-live]");
if (live) {
  setInterval(async () => {
    try {
      const r = await fetch(live.dataset.live, {headers: {"Accept": "text/html"}});
      if (r.ok) live.innerHTML = await r.text();
    } catch (e) { /* the console's PC lost the station for a moment: try again next time */ }
  }, 2000);
}

const text = document.getElementById("text");
const reading = document.querySelector("[data-reading]");
if (text && reading) {
  let timer = null;
  const show = async () => {
    const r = await fetch(reading.dataset.reading, {method: "POST",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf()},
      body: JSON.stringify({text: text.value})});
    if (!r.ok) return;
    const data = await r.json();
    reading.replaceChildren(...data.lines.map((l) => {
      const p = document.createElement("p");
      p.className = l.warnings.length ? "line warned" : "line";
      p.textContent = l.spoken || "\u00a0";
      if (l.warnings.length) {
        const w = document.createElement("span");
        w.className = "guess";
        w.textContent = " ⚠ " + l.warnings.join(", ");
        p.append(w);
      }
      return p;
    }));
  };
  text.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(show, 250); });
  show();
}

// compose: show the fields of the chosen repetition only (all of them show without scripts)
const repeats = document.querySelectorAll("input[name=repeat]");
if (repeats.length) {
  const shown = () => {
    const chosen = document.querySelector("input[name=repeat]:checked")?.value || "weekly";
    document.querySelectorAll("[data-repeat]").forEach((el) => {
      el.hidden = !el.dataset.repeat.split(" ").includes(chosen);
    });
  };
  repeats.forEach((r) => r.addEventListener("change", shown));
  shown();
}

// emergencies: how many clusters the chosen groups, stations and zones add up to
const targets = document.querySelector("[data-counts]");
if (targets) {
  const count = () => {
    const zones = new Set();
    targets.querySelectorAll("input:checked").forEach((i) => i.dataset.zones.split(" ").filter(Boolean).forEach((z) => zones.add(z)));
    document.getElementById("chosen").textContent = zones.size;
  };
  targets.addEventListener("change", count);
  count();
}

// one emergency: each cluster's step, refreshed every 2 s while it is on the air
const head = document.querySelector("[data-emergency]");
if (head) {
  const refresh = async () => {
    try {
      const r = await fetch(`/emergency/${head.dataset.emergency}/state`);
      if (!r.ok) return;
      const data = await r.json();
      document.getElementById("em-status").textContent = data.status_word;
      document.getElementById("em-rounds").textContent = data.rounds;
      for (const [step, n] of Object.entries(data.counts)) {
        const el = head.querySelector(`[data-count=${step}]`);
        if (el) el.textContent = n;
      }
      for (const z of data.zones) {
        const row = document.querySelector(`tr[data-zone="${CSS.escape(z.zone)}"]`);
        if (!row) continue;
        const cells = row.querySelectorAll("td");
        cells[2].textContent = z.step_word || "…";
        cells[2].className = "step " + (z.step || "");
        cells[3].textContent = z.status_word;
        cells[4].textContent = z.heard_word;
      }
    } catch (e) { /* the console's PC lost the station for a moment: next time */ }
  };
  setInterval(refresh, 2000);
}
