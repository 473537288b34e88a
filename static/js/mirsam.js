/*
 * Mirsam — small progressive enhancements. Every page works without this file;
 * user-visible text comes from the templates (data-* attributes), never from here.
 */
(function () {
  "use strict";

  // The Content Security Policy allows no inline styles or eval: htmx must not
  // inject its indicator <style> (components.css has those rules) nor evaluate code.
  // This file runs (defer) after htmx and before htmx initialises on DOMContentLoaded.
  if (window.htmx) {
    window.htmx.config.includeIndicatorStyles = false;
    window.htmx.config.allowEval = false;
  }

  // --- prompt character counter -------------------------------------------
  // <textarea data-counter="counter-id"> with <span id="counter-id">.
  // The limit is the textarea's maxlength, or a [data-prompt-limit] element
  // rendered by the options partial (it changes with the model).
  function promptLimit(textarea) {
    var holder = document.querySelector("[data-prompt-limit]");
    var limit = holder ? parseInt(holder.getAttribute("data-prompt-limit"), 10) : NaN;
    if (!isNaN(limit) && limit > 0) {
      textarea.setAttribute("maxlength", String(limit));
      return limit;
    }
    var max = parseInt(textarea.getAttribute("maxlength"), 10);
    return isNaN(max) ? 0 : max;
  }

  function updateCounter(textarea) {
    var counter = document.getElementById(textarea.getAttribute("data-counter"));
    if (!counter) return;
    var limit = promptLimit(textarea);
    var length = textarea.value.length;
    counter.textContent = limit ? length + " / " + limit : String(length);
    counter.classList.toggle("is-near", limit > 0 && length >= limit * 0.9 && length <= limit);
    counter.classList.toggle("is-over", limit > 0 && length > limit);
    document.querySelectorAll("[data-prompt-limit-text]").forEach(function (el) {
      if (limit) el.textContent = String(limit);
    });
  }

  function initCounters(root) {
    (root || document).querySelectorAll("textarea[data-counter]").forEach(function (textarea) {
      if (!textarea.dataset.counterReady) {
        textarea.dataset.counterReady = "1";
        textarea.addEventListener("input", function () { updateCounter(textarea); });
        // Ctrl/Cmd + Enter submits the form (htmx listens to the submit event).
        textarea.addEventListener("keydown", function (event) {
          if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && textarea.form) {
            event.preventDefault();
            if (textarea.form.requestSubmit) textarea.form.requestSubmit();
            else textarea.form.submit();
          }
        });
      }
      updateCounter(textarea);
    });
  }

  // --- dismissible messages --------------------------------------------------
  function dismiss(alert) {
    alert.classList.add("is-leaving");
    window.setTimeout(function () { alert.remove(); }, 220);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dismiss]");
    if (button) {
      var alert = button.closest(".alert");
      if (alert) dismiss(alert);
    }
  });

  function autoDismiss(root) {
    (root || document).querySelectorAll(".alert[data-autohide]").forEach(function (alert) {
      window.setTimeout(function () { if (alert.isConnected) dismiss(alert); }, 6000);
    });
  }

  // --- <details> menus: close on outside click and on Escape -----------------
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      var summary = menu.querySelector("summary");
      if (summary) summary.focus();
    });
  });

  // --- filter forms submit on change ---------------------------------------
  document.addEventListener("change", function (event) {
    var form = event.target.closest("form[data-autosubmit]");
    if (form && event.target.matches("select, input[type=date], input[type=checkbox]")) form.submit();
  });

  // --- My creations: the bulk selection (generation/creations.html) ---------
  // Tiles' checkboxes belong to form#library-bulk through form="…". "Select
  // all on this page" ticks them all (the server also reads it without
  // JavaScript: it then takes every page_job); the count says how many.
  function bulkUpdate(form) {
    var boxes = document.querySelectorAll("input[data-bulk-item][form='" + form.id + "']");
    var all = form.querySelector("[data-bulk-all]");
    var count = form.querySelector("[data-bulk-count]");
    var ticked = 0;
    boxes.forEach(function (box) { if (box.checked) ticked += 1; });
    if (all) {
      all.checked = boxes.length > 0 && ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
    }
    if (count) {
      count.textContent = ticked === 0 ? "" : ticked === 1
        ? form.getAttribute("data-count-one")
        : ticked + " " + form.getAttribute("data-count-many");
    }
  }
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-bulk-all]")) {
      var form = target.closest("form[data-bulk]");
      document.querySelectorAll("input[data-bulk-item][form='" + form.id + "']").forEach(function (box) {
        box.checked = target.checked;
      });
      bulkUpdate(form);
    } else if (target.matches("input[data-bulk-item]")) {
      var owner = document.getElementById(target.getAttribute("form"));
      if (owner) bulkUpdate(owner);
    }
  });

  // --- controls that need JavaScript (htmx) are shown only with it ----------
  function showJsOnly(root) {
    root = root || document;
    if (root.matches && root.matches("[data-js-only]")) root.hidden = false;
    root.querySelectorAll("[data-js-only][hidden]").forEach(function (el) {
      el.hidden = false;
    });
  }

  // --- reference images (generation/partials/references.html) ---------------
  // Uploads and picked results count together against the model's limit
  // (data-reference-limit; the server checks it again): past it, the
  // unpicked results are disabled. Chosen files get small previews.
  function updateReferences(box) {
    var limit = parseInt(box.getAttribute("data-reference-limit"), 10) || 0;
    var input = box.querySelector("[data-ref-files]");
    var count = input && input.files ? input.files.length : 0;
    var checks = box.querySelectorAll("input[name=reference_asset]");
    checks.forEach(function (check) { if (check.checked) count += 1; });
    checks.forEach(function (check) { check.disabled = !check.checked && count >= limit; });
    var counter = box.querySelector("[data-ref-counter]");
    if (counter) {
      counter.hidden = false;
      var number = counter.querySelector("[data-ref-count]");
      if (number) number.textContent = String(count);
      counter.classList.toggle("is-over", count > limit);
    }
  }

  function initReferences(root) {
    (root || document).querySelectorAll("[data-reference-limit]").forEach(updateReferences);
  }

  function showPreviews(input) {
    var box = input.closest("[data-reference-limit]");
    var list = box && box.querySelector("[data-ref-previews]");
    if (!list || !window.URL || !URL.createObjectURL) return;
    list.querySelectorAll("img").forEach(function (img) { URL.revokeObjectURL(img.src); });
    list.textContent = "";
    Array.prototype.forEach.call(input.files || [], function (file) {
      if (!/^image\//.test(file.type)) return;
      var item = document.createElement("li");
      var img = document.createElement("img");
      img.src = URL.createObjectURL(file);
      img.alt = file.name;
      item.appendChild(img);
      list.appendChild(item);
    });
    list.hidden = !list.children.length;
  }

  document.addEventListener("change", function (event) {
    var box = event.target.closest && event.target.closest("[data-reference-limit]");
    if (!box) return;
    if (event.target.matches("[data-ref-files]")) showPreviews(event.target);
    updateReferences(box);
  });

  // --- tools on a result (generation/partials/tool_form.html) ---------------
  // Cancel closes the form in the card and gives focus back to its button;
  // on the form's own page (no JavaScript needed) the link goes back.
  document.addEventListener("click", function (event) {
    var cancel = event.target.closest("[data-tool-cancel]");
    var slot = cancel && cancel.closest(".tool-slot");
    var card = slot && slot.closest(".job-card");
    if (!card) return;
    event.preventDefault();
    slot.textContent = "";
    var opener = card.querySelector("[data-tool-open]");
    if (opener) opener.focus();
  });

  // A re-rendered tool form (new price) keeps the focus on the control that
  // changed; a newly opened one takes it.
  function focusToolForm(slot, name) {
    var target = null;
    if (name) {
      target = slot.querySelector("[name='" + name + "']:checked") || slot.querySelector("select[name='" + name + "']");
    }
    target = target || slot.querySelector("select, input[type=radio]:checked, button[type=submit]");
    if (target) target.focus();
  }

  // --- htmx hooks -------------------------------------------------------------
  document.addEventListener("htmx:afterSwap", function (event) {
    initCounters(event.detail.elt && event.detail.elt.parentNode);
    var prompt = document.querySelector("textarea[data-counter]");
    if (prompt) updateCounter(prompt);
    autoDismiss(event.detail.elt);
    var target = event.detail.target;
    if (target && target.classList && target.classList.contains("tool-slot") && target.firstElementChild) {
      var trigger = event.detail.requestConfig && event.detail.requestConfig.elt;
      focusToolForm(target, trigger && trigger.name && !trigger.hasAttribute("data-tool-open") ? trigger.name : "");
    }
  });

  // Every piece of content htmx adds (also out of band: the reference control).
  document.addEventListener("htmx:load", function (event) {
    showJsOnly(event.detail.elt);
    initReferences(document);
  });

  // A brief highlight when the header balance changes.
  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.detail.elt && event.detail.elt.id === "balance") {
      var badge = event.detail.elt.querySelector(".balance-badge");
      if (badge) {
        badge.classList.remove("is-updated");
        void badge.offsetWidth;
        badge.classList.add("is-updated");
      }
    }
  });

  // The Generate form: a network failure or a server error gets a clear line
  // in #form-errors instead of silence. The text is rendered by the template.
  function showFormError(form, key) {
    var box = document.getElementById("form-errors");
    if (!box) return;
    var message = box.getAttribute(key) || box.getAttribute("data-error-generic") || "";
    if (!message) return;
    box.innerHTML = "";
    var alert = document.createElement("div");
    alert.className = "alert alert-error";
    alert.setAttribute("role", "alert");
    var body = document.createElement("div");
    body.className = "alert__body";
    var p = document.createElement("p");
    p.textContent = message;
    body.appendChild(p);
    alert.appendChild(body);
    box.appendChild(alert);
  }

  // The Video form's frame inputs follow the chosen model: none, a first
  // frame, or a first and a last frame (the options say how many it takes).
  // A hidden input's file is dropped, so it is never sent to a model that
  // would refuse it.
  function syncFrames(root) {
    var marker = root.querySelector ? root.querySelector("[data-frames]") : null;
    var field = document.querySelector("[data-frames-field]");
    if (!marker || !field) return;
    var frames = parseInt(marker.getAttribute("data-frames"), 10) || 0;
    field.hidden = frames < 1;
    var last = field.querySelector("[data-last-frame]");
    if (last) last.hidden = frames < 2;
    field.querySelectorAll("label[hidden] input[type=file], fieldset[hidden] input[type=file]").forEach(function (input) {
      input.value = "";
    });
    if (field.hidden) field.querySelectorAll("input[type=file]").forEach(function (input) { input.value = ""; });
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "options") syncFrames(event.detail.target);
  });

  // Every Generate form (Image, Video, Audio, Avatar, Make it speak) posts its
  // new job card into the feed, #jobs.
  function isGenerateForm(elt) {
    return !!elt && elt.tagName === "FORM" && elt.getAttribute("hx-target") === "#jobs";
  }

  document.addEventListener("htmx:sendError", function (event) {
    if (isGenerateForm(event.detail.elt)) showFormError(event.detail.elt, "data-error-network");
  });

  document.addEventListener("htmx:responseError", function (event) {
    if (isGenerateForm(event.detail.elt)) showFormError(event.detail.elt, "data-error-generic");
  });

  // A new job card: bring it into view on small screens, where the feed sits
  // below the form.
  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    if (!isGenerateForm(elt) || !event.detail.successful) return;
    var target = event.detail.target;
    if (target && target.id === "jobs" && window.matchMedia("(max-width: 960px)").matches) {
      var card = target.querySelector(".job-card");
      if (card) card.scrollIntoView({ behavior: "smooth", block: "start" });
    }
  });

  function ready() {
    initCounters(document);
    autoDismiss(document);
    showJsOnly(document);
    initReferences(document);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
