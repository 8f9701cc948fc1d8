// Shared work queues: j/k move between rows ([data-queue-row]), single keys press the
// highlighted row's actions (each control names its key in data-key), "?" opens the
// help overlay. No key fires while the focus is in a field, or with Ctrl/Alt/Meta.
(() => {
  const typing = (el) =>
    !!el && (el.isContentEditable || ["input", "textarea", "select"].includes((el.tagName || "").toLowerCase()));
  const rows = () => Array.from(document.querySelectorAll("[data-queue-row]"));
  let current = "";

  const highlight = (row) => {
    rows().forEach((r) => {
      r.classList.toggle("is-current", r === row);
      if (r === row) r.setAttribute("aria-current", "true");
      else r.removeAttribute("aria-current");
    });
    if (!row) return;
    current = row.id;
    const link = row.querySelector("[data-row-link]");
    if (link) link.focus();
    row.scrollIntoView({ block: "nearest" });
  };

  const help = () => document.getElementById("queue-help");
  const toggleHelp = () => {
    const dialog = help();
    if (!dialog) return;
    if (dialog.open) dialog.close();
    else dialog.showModal();
  };

  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-help-open]")) toggleHelp();
  });

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target) || !help()) return;
    if (event.key === "?") {
      event.preventDefault();
      toggleHelp();
      return;
    }
    if (help().open) return;
    const list = rows();
    if (!list.length) return;
    const at = list.findIndex((r) => r.id === current);
    if (event.key === "j" || event.key === "k") {
      event.preventDefault();
      const step = event.key === "j" ? 1 : -1;
      const next = at === -1 ? 0 : Math.min(Math.max(at + step, 0), list.length - 1);
      highlight(list[next]);
      return;
    }
    if (at === -1 || event.key.length !== 1) return;
    const control = list[at].querySelector(`[data-key="${CSS.escape(event.key)}"]`);
    if (!control) return;
    event.preventDefault();
    if (control.matches("input, textarea, select")) {
      control.focus();
    } else if (control.matches("summary")) {
      const details = control.closest("details");
      details.open = true;
      const first = details.querySelector("select, input");
      if (first) first.focus();
    } else {
      control.click();
    }
  });

  // A row named in the address (#item-…, e.g. after Next item or a claim) starts
  // highlighted; so does it again after htmx swaps the table.
  const fromHash = () => {
    const id = decodeURIComponent(window.location.hash.slice(1));
    const row = id && document.getElementById(id);
    if (row && row.matches("[data-queue-row]")) highlight(row);
  };
  fromHash();
  document.addEventListener("htmx:afterSettle", () => {
    const row = current && document.getElementById(current);
    if (row) row.classList.add("is-current");
  });
})();
