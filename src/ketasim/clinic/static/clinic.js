// ketasim clinic: small helpers only (the pages work without them).
document.addEventListener("DOMContentLoaded", () => {
  // Questionnaires: show the computed total as items are answered (the server computes it again).
  for (const form of document.querySelectorAll("form[data-questionnaire]")) {
    const out = form.querySelector("[data-total]");
    const update = () => {
      const checked = [...form.querySelectorAll("input[type=radio]:checked")];
      const n = new Set([...form.querySelectorAll("input[type=radio]")].map((r) => r.name)).size;
      const sum = checked.reduce((s, r) => s + Number(r.value), 0);
      out.textContent = checked.length === n ? String(sum) : `${sum} so far (${checked.length} of ${n} answered)`;
    };
    form.addEventListener("change", update);
    update();
  }
  // Session form: show mg <-> mg/kg for the patient's weight.
  for (const form of document.querySelectorAll("form[data-weight]")) {
    const w = Number(form.dataset.weight);
    const mg = form.querySelector("[data-dose-mg]"), kg = form.querySelector("[data-dose-mgkg]");
    const note = form.querySelector("[data-dose-note]");
    const show = () => {
      if (mg.value) note.textContent = `${mg.value} mg = ${(Number(mg.value) / w).toFixed(2)} mg/kg for ${w} kg`;
      else if (kg.value) note.textContent = `${kg.value} mg/kg = ${(Number(kg.value) * w).toFixed(1)} mg for ${w} kg`;
      else note.textContent = "";
    };
    mg.addEventListener("input", show); kg.addEventListener("input", show); show();
  }
  for (const b of document.querySelectorAll("[data-print]")) b.addEventListener("click", () => window.print());
});
