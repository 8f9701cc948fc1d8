// Global search: Ctrl-K (⌘K) or "/" on any console page opens the search box.
// Results come from /search/ as a fragment (htmx); ↑/↓ move through them (j/k
// too, once the list has focus), Enter opens one, Esc closes the box. Without
// JavaScript the header link and the form lead to the search page itself.
(() => {
  const dialog = document.getElementById("global-search");
  if (!dialog) return;
  const input = dialog.querySelector("input[name=q]");

  const typing = (el) => {
    if (!el || !el.tagName) return false;
    const tag = el.tagName.toLowerCase();
    return ["input", "textarea", "select"].includes(tag) || el.isContentEditable;
  };
  const hits = () => Array.from(dialog.querySelectorAll("[data-search-hit]"));

  const open = () => {
    if (!dialog.open) dialog.showModal();
    input.focus();
    input.select();
  };
  const close = () => { if (dialog.open) dialog.close(); };

  document.addEventListener("keydown", (event) => {
    if (dialog.open || event.altKey) return;
    const ctrlK = (event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "k";
    const slash = event.key === "/" && !event.ctrlKey && !event.metaKey;
    if (!ctrlK && !slash) return;
    // Never while someone types into a field (queue pages have their own keys).
    if (typing(event.target)) return;
    event.preventDefault();
    open();
  });

  document.addEventListener("click", (event) => {
    const opener = event.target.closest("[data-global-search-open]");
    if (opener) {
      event.preventDefault();
      open();
    } else if (event.target === dialog) {
      close(); // a click on the backdrop
    }
  });

  const move = (step) => {
    const list = hits();
    if (!list.length) return;
    const at = list.indexOf(document.activeElement);
    if (at === -1) {
      if (step > 0) list[0].focus();
      return;
    }
    const next = at + step;
    if (next < 0) input.focus();
    else list[Math.min(next, list.length - 1)].focus();
  };

  dialog.addEventListener("keydown", (event) => {
    // The box is modal: the page's own single-key shortcuts never see these keys.
    event.stopPropagation();
    const inInput = event.target === input;
    if (event.key === "Escape") {
      // A search field would only clear itself on the first Esc: close at once.
      event.preventDefault();
      close();
    } else if (event.key === "ArrowDown" || (!inInput && event.key === "j")) {
      event.preventDefault();
      move(1);
    } else if (event.key === "ArrowUp" || (!inInput && event.key === "k")) {
      event.preventDefault();
      move(-1);
    } else if (inInput && event.key === "Enter") {
      // Only results of what the box holds now; otherwise the search page.
      const results = dialog.querySelector("#gs-results");
      const current = input.value.trim().split(/\s+/).join(" ");
      const first = results && results.dataset.q === current ? hits()[0] : null;
      if (first) {
        event.preventDefault();
        window.location.assign(first.href);
      }
    } else if (!inInput && event.key.length === 1 && !event.ctrlKey && !event.metaKey) {
      input.focus(); // typing again goes back to the box
    }
  });
})();
