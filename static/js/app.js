// routerweb's only script of its own. No inline scripts anywhere: CSP forbids them.
(function () {
  "use strict";

  function onReady(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  // The conversation follows a streaming answer only while the reader is at its end: someone
  // who scrolled up to read is left there, with a "Latest" button to jump back down. Whether
  // to follow is decided just before each swap, from where the reader is then (a scroll event
  // arrives a frame late, and a chunk swapped in meanwhile would undo the reader's scroll).
  var atEnd = true;

  function nearEnd(box) {
    return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  }

  function showJump(box) {
    var jump = document.querySelector("[data-jump-latest]");
    if (jump) jump.hidden = nearEnd(box);
  }

  function rememberPlace() {
    var box = document.getElementById("messages");
    if (box) atEnd = nearEnd(box);
  }

  function scrollMessages(force) {
    var box = document.getElementById("messages");
    if (!box) return;
    if (force === true || atEnd) box.scrollTop = box.scrollHeight;
    showJump(box);
  }

  // The message box grows with what is typed (up to about a third of the screen).
  function fitComposer(area) {
    area.style.height = "";
    var limit = Math.max(120, Math.round(window.innerHeight * 0.35));
    if (area.scrollHeight > area.clientHeight) {
      area.style.height = Math.min(area.scrollHeight + 2, limit) + "px";
    }
  }

  // The workspace form shows only the list the chosen mode uses. The other one is disabled
  // too, so a value picked there earlier is not sent (and cannot be silently dropped).
  function syncWorkspaceMode(form) {
    var checked = form.querySelector("input[name=mode]:checked");
    if (!checked) return;
    form.querySelectorAll("[data-mode-field]").forEach(function (field) {
      var on = field.getAttribute("data-mode-field") === checked.value;
      field.hidden = !on;
      field.querySelectorAll("select, input").forEach(function (el) { el.disabled = !on; });
    });
  }

  onReady(function () {
    document.querySelectorAll("form[data-workspace-form]").forEach(syncWorkspaceMode);
    document.addEventListener("change", function (e) {
      var form = e.target.closest("form[data-workspace-form]");
      if (form && e.target.name === "mode") syncWorkspaceMode(form);
    });
    scrollMessages(true);
    pruneRegenerate();
    var box = document.getElementById("messages");
    if (box) box.addEventListener("scroll", function () { showJump(box); }, { passive: true });
    document.addEventListener("input", function (e) {
      var area = e.target.closest("form[data-composer] textarea");
      if (area) fitComposer(area);
    });

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
      form.querySelectorAll("textarea").forEach(function (area) { area.style.height = ""; });
      // What was just sent shows, even to someone who had scrolled up.
      scrollMessages(true);
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

  // --- Copy buttons: code blocks copy their code, answers their markdown source.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    // Plain-HTTP deployments have no async clipboard: fall back to a selected textarea.
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "offscreen";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (err) { ok = false; }
      area.remove();
      if (ok) resolve(); else reject(new Error("copy refused"));
    });
  }

  document.addEventListener("click", function (e) {
    var button = e.target.closest("[data-copy]");
    if (button) {
      var text = button.getAttribute("data-copy-text");
      if (text === null) {
        var holder = button.closest(".code-block, [data-copy-scope]");
        var source = holder && holder.querySelector("pre, input, textarea, code");
        text = source ? (source.value !== undefined && source.tagName !== "PRE" && source.tagName !== "CODE" ? source.value : source.textContent) : "";
      }
      var label = button.textContent;
      copyText(text).then(function () {
        button.textContent = "Copied";
      }, function () {
        button.textContent = "Press Ctrl+C";
      }).then(function () {
        setTimeout(function () { button.textContent = label; }, 1500);
      });
      return;
    }
    if (e.target.closest("[data-jump-latest]")) { scrollMessages(true); return; }
    var toggle = e.target.closest("[data-drawer-toggle]");
    if (toggle) { setDrawer(!document.body.classList.contains("drawer-open")); return; }
    if (e.target.closest("[data-drawer-close]")) { setDrawer(false); return; }
    var navToggle = e.target.closest("[data-nav-toggle]");
    if (navToggle) {
      var open = document.body.classList.toggle("nav-open");
      navToggle.setAttribute("aria-expanded", open ? "true" : "false");
      return;
    }
    // A click outside an open popover closes it.
    document.querySelectorAll("details.popover[open]").forEach(function (d) {
      if (!d.contains(e.target)) d.removeAttribute("open");
    });
  });

  // --- The thread list is a drawer on narrow screens.
  function setDrawer(open) {
    document.body.classList.toggle("drawer-open", open);
    var scrim = document.querySelector("[data-drawer-close]");
    if (scrim) scrim.hidden = !open;
    document.querySelectorAll("[data-drawer-toggle]").forEach(function (b) {
      b.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  // --- Keyboard shortcuts (listed in the "?" popover of the chat page).
  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable]") !== null;
  }

  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") {
      var open = document.querySelector("details.popover[open]");
      if (open) { open.removeAttribute("open"); return; }
      if (document.body.classList.contains("drawer-open")) { setDrawer(false); return; }
      var stop = document.querySelector("[data-stop]");
      if (stop) { e.preventDefault(); stop.click(); }
      return;
    }
    if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === "k") {
      var search = document.querySelector(".thread-search input");
      if (search) {
        e.preventDefault();
        if (window.matchMedia("(max-width: 760px)").matches) setDrawer(true);
        search.focus();
      }
      return;
    }
    if (e.altKey && !e.ctrlKey && !e.metaKey && e.key.toLowerCase() === "n") {
      var fresh = document.querySelector("[data-shortcut=new-chat]");
      if (fresh) { e.preventDefault(); window.location.href = fresh.href; }
      return;
    }
    if (typing(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "/") {
      var box = document.querySelector("form[data-composer] textarea");
      if (box) { e.preventDefault(); box.focus(); }
    } else if (e.key === "?") {
      var help = document.querySelector("[data-help]");
      if (help) { e.preventDefault(); help.toggleAttribute("open"); }
    }
  });

  // Only the last answer can be regenerated (or, cut off, continued): when a new one arrives,
  // the forms of older answers go.
  function pruneRegenerate() {
    var rows = document.querySelectorAll("#messages > .msg:not(.note)");
    var last = rows[rows.length - 1];
    var forms = document.querySelectorAll("#messages form.regenerate");
    for (var i = 0; i < forms.length; i++) {
      if (!last || !last.contains(forms[i])) forms[i].remove();
    }
  }

  document.addEventListener("htmx:afterSwap", pruneRegenerate);
  document.addEventListener("htmx:beforeSwap", rememberPlace);
  document.addEventListener("htmx:sseBeforeMessage", rememberPlace);
  document.addEventListener("htmx:afterSwap", scrollMessages);
  document.addEventListener("htmx:sseMessage", scrollMessages);
  document.addEventListener("htmx:sseMessage", pruneRegenerate);

  // Expose a hook for page-specific modules.
  window.routerweb = window.routerweb || {};
})();
