// Remediation page: a "select all" box for the flagged numbers (the page works
// without it; each number has its own checkbox). Loaded with defer, so the page
// is parsed when this runs.
(() => {
  const all = document.querySelector("[data-select-all]");
  if (!all) return;
  const boxes = () =>
    Array.from(document.querySelectorAll('input[name="phone_numbers"]:not(:disabled)'));
  all.hidden = false;
  all.addEventListener("change", () => {
    boxes().forEach((box) => { box.checked = all.checked; });
  });
})();
