// Small keyboard helpers for every page: "/" focuses the page's search box.
document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
  const tag = (event.target.tagName || "").toLowerCase();
  if (["input", "textarea", "select"].includes(tag)) return;
  const search = document.querySelector("[data-search]");
  if (search) {
    event.preventDefault();
    search.focus();
  }
});

// Buttons with data-copy="#selector" copy that field's value to the clipboard.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const field = document.querySelector(button.dataset.copy);
  if (!field) return;
  field.select();
  const done = () => { button.textContent = "Copied"; };
  if (navigator.clipboard) {
    navigator.clipboard.writeText(field.value).then(done, () => document.execCommand("copy") && done());
  } else if (document.execCommand("copy")) {
    done();
  }
});

// No inline handlers (the Content-Security-Policy refuses them); these stand in.
// <form data-confirm="Question?">: ask before submitting. A form whose reason
// ([data-reason]) is still empty goes without asking: the server refuses it and
// says so beside the field (trustconsole/lib/confirm.py).
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (!form) return;
  // A button that leads to a confirmation step of its own (Blacklist) skips this one.
  if (event.submitter && event.submitter.hasAttribute("data-confirm-skip")) return;
  const reason = form.querySelector("[data-reason]");
  if (reason && !reason.value.trim()) return;
  if (!window.confirm(form.dataset.confirm)) {
    // Captured before htmx's own listener on the form: a refusal sends nothing.
    event.preventDefault();
    event.stopPropagation();
  }
}, true);

// <select data-autosubmit>: submit its form when the choice changes.
document.addEventListener("change", (event) => {
  const select = event.target.closest("select[data-autosubmit]");
  if (select && select.form) select.form.requestSubmit();
});

// <input data-select-on-focus>: select the whole value when focused.
document.addEventListener("focusin", (event) => {
  const field = event.target.closest("input[data-select-on-focus]");
  if (field) field.select();
});

// Deferred scripts all run before DOMContentLoaded, so by then every handler of the
// page is attached: mark the page ready (browser tests wait for this marker).
(() => {
  const markReady = () => { document.documentElement.dataset.ready = "1"; };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", markReady);
  } else {
    markReady();
  }
})();
