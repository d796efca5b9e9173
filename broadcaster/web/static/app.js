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
