// The rule builder's behaviour. No inline scripts or hx-on anywhere (CSP): everything is
// wired here through data attributes and htmx events.
(function () {
  "use strict";

  // Drag-and-drop reorder. The whole new order goes to the server in one POST (the hidden
  // #reorder element, hx-trigger="rules-reordered"), which refuses anything but exactly
  // the router's rules, so a stale page cannot lose a rule.
  function initSortables(root) {
    if (typeof Sortable === "undefined") return;
    var lists = [];
    if (root.matches && root.matches("[data-sortable]")) lists.push(root);
    Array.prototype.push.apply(lists, root.querySelectorAll ? root.querySelectorAll("[data-sortable]") : []);
    lists.forEach(function (list) {
      if (list.dataset.sortableReady) return;
      list.dataset.sortableReady = "1";
      Sortable.create(list, {
        handle: ".drag-handle",
        draggable: ".rule",
        animation: 150,
        // Native HTML5 drag events cannot be synthesised reliably (browser tests, some
        // touch devices); the fallback implementation works with plain mouse events.
        forceFallback: true,
        fallbackOnBody: true,
        ghostClass: "rule-ghost",
        chosenClass: "rule-chosen",
        dragClass: "rule-drag",
        onEnd: function (evt) {
          if (evt.oldIndex === evt.newIndex) return;
          var trigger = document.getElementById("reorder");
          if (trigger && window.htmx) window.htmx.trigger(trigger, "rules-reordered");
        },
      });
    });
  }

  // A rule form shows either its conditions (calculated) or its description (LLM).
  function syncKind(form) {
    var checked = form.querySelector("input[name=kind]:checked");
    if (!checked) return;
    form.querySelectorAll("[data-kind-section]").forEach(function (section) {
      section.classList.toggle("hidden", section.getAttribute("data-kind-section") !== checked.value);
    });
  }

  document.addEventListener("change", function (e) {
    var radio = e.target.closest("form[data-rule-form] input[name=kind]");
    if (radio) syncKind(radio.form);
  });

  document.addEventListener("click", function (e) {
    var apply = e.target.closest("[data-apply-threshold]");
    if (apply) {
      var field = apply.closest("form").querySelector("input[name=threshold]");
      if (field) field.value = apply.getAttribute("data-apply-threshold");
      return;
    }
    var remove = e.target.closest("[data-remove-row]");
    if (remove) {
      e.preventDefault();
      var row = remove.closest(".cond-row, .example-row");
      var editor = row ? row.closest("[data-examples-editor]") : null;
      if (row) row.remove();
      // The duplicate flags of the other examples may change with this one gone.
      if (editor && window.htmx) window.htmx.trigger(editor, "examples-changed");
      return;
    }
    var dismiss = e.target.closest("[data-dismiss]");
    if (dismiss) {
      var target = document.querySelector(dismiss.getAttribute("data-dismiss"));
      if (target) {
        e.preventDefault();
        target.innerHTML = "";
      }
    }
  });

  // Enter in an example adds the next one (instead of submitting the rule half-written).
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Enter" || e.isComposing) return;
    var input = e.target.closest("[data-example-input]");
    if (!input) return;
    e.preventDefault();
    var editor = input.closest("[data-examples-editor]");
    var add = editor ? editor.querySelector("[data-add-example]") : null;
    if (add) add.click();
  });

  // Focus the first field of a form htmx just inserted, and fade the "Order saved" note.
  document.addEventListener("htmx:afterSwap", function (e) {
    var list = e.detail.target;
    if (list && list.matches && list.matches(".example-list") && e.detail.requestConfig &&
        e.detail.requestConfig.verb === "get") {
      var inputs = list.querySelectorAll("[data-example-input]");
      if (inputs.length) inputs[inputs.length - 1].focus();
      return;
    }
    var form = e.detail.target && e.detail.target.querySelector ? e.detail.target.querySelector("form[data-rule-form]") : null;
    if (form) {
      syncKind(form);
      var invalid = form.querySelector(".has-error input, .has-error select, .has-error textarea");
      var first = invalid || form.querySelector("input[type=text]");
      if (first) first.focus();
    }
  });

  document.addEventListener("htmx:load", function (e) { initSortables(e.detail.elt); });

  function onReady(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }
  onReady(function () { initSortables(document); });
})();
