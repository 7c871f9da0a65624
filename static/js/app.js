// routerweb's only script of its own. No inline scripts anywhere: CSP forbids them.
(function () {
  "use strict";

  function onReady(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  function scrollMessages() {
    var box = document.getElementById("messages");
    if (box) box.scrollTop = box.scrollHeight;
  }

  onReady(function () {
    scrollMessages();

    // <select data-navigate> jumps to the chosen option's URL.
    document.addEventListener("change", function (e) {
      var sel = e.target.closest("select[data-navigate]");
      if (sel && sel.value) window.location.href = sel.value;
      var file = e.target.closest(".composer input[type=file]");
      if (file) {
        var names = Array.prototype.map.call(file.files, function (f) { return f.name; }).join(", ");
        var out = document.querySelector("[data-attach-names]");
        if (out) out.textContent = names;
      }
    });

    // Enter sends, Shift+Enter adds a line.
    document.addEventListener("keydown", function (e) {
      var area = e.target.closest("form[data-composer] textarea");
      if (area && e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        var form = area.form;
        if (form.requestSubmit) form.requestSubmit(); else form.submit();
      }
    });
  });

  // After a successful post, clear the composer; on an error keep what the user typed.
  document.addEventListener("htmx:afterRequest", function (e) {
    var form = e.detail.elt;
    if (!form.matches || !form.matches("form[data-composer]")) return;
    if (e.detail.successful && e.detail.xhr.status < 300) {
      form.reset();
      var names = form.querySelector("[data-attach-names]");
      if (names) names.textContent = "";
      var errors = document.getElementById("composer-errors");
      if (errors) errors.innerHTML = "";
      var preview = document.getElementById("route-preview");
      if (preview) preview.innerHTML = "";
      var empty = document.getElementById("empty-thread");
      if (empty) empty.remove();
    }
  });

  document.addEventListener("htmx:afterSwap", scrollMessages);
  document.addEventListener("htmx:sseMessage", scrollMessages);

  // Expose a hook for page-specific modules.
  window.routerweb = window.routerweb || {};
})();
