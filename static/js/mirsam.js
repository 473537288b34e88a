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
  // unpicked results are disabled. The drop zone shows the chosen files.
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

  document.addEventListener("change", function (event) {
    var box = event.target.closest && event.target.closest("[data-reference-limit]");
    if (box) updateReferences(box);
  });

  // --- drop zones (generation/partials/drop_zone.html) ----------------------
  // The real <input type=file> stays in the form; the zone keeps the files
  // chosen (zone.dropFiles) and writes them back into input.files through a
  // DataTransfer, so a drop, an added file and a removed one are what the
  // form sends. Type and size are checked here for a quick answer; the
  // server checks again. Messages come from the zone's data-* attributes.
  function zoneInput(zone) { return zone.querySelector(".dropzone__input"); }

  function asFileList(files) {
    var transfer = new DataTransfer();
    files.forEach(function (file) { transfer.items.add(file); });
    return transfer.files;
  }

  function fillIn(text, values) {
    return String(text || "").replace(/\{(\w+)\}/g, function (all, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? values[key] : all;
    });
  }

  function accepts(input, file) {
    var rules = (input.getAttribute("accept") || "").split(",").map(function (r) { return r.trim().toLowerCase(); })
      .filter(Boolean);
    if (!rules.length) return true;
    var name = file.name.toLowerCase();
    var type = (file.type || "").toLowerCase();
    return rules.some(function (rule) {
      if (rule.charAt(0) === ".") return name.slice(-rule.length) === rule;
      if (rule.slice(-2) === "/*") return type.indexOf(rule.slice(0, -1)) === 0;
      return type === rule;
    });
  }

  function megabytes(bytes) {
    var mb = bytes / 1048576;
    if (mb >= 10) return String(Math.round(mb));
    return String(mb >= 0.1 ? Math.round(mb * 10) / 10 : Math.round(mb * 100) / 100);
  }

  function fileSize(bytes) {
    return bytes < 1048576 ? Math.max(1, Math.round(bytes / 1024)) + " KB" : megabytes(bytes) + " MB";
  }

  function clock(seconds) {
    var whole = Math.round(seconds);
    var s = whole % 60;
    return Math.floor(whole / 60) + ":" + (s < 10 ? "0" : "") + s;
  }

  function zoneFiles(zone) {
    if (!zone.dropFiles) {
      var input = zoneInput(zone);
      zone.dropFiles = Array.prototype.slice.call((input && input.files) || []);
    }
    return zone.dropFiles;
  }

  // Check `added` and put them in the zone (after the files it has when it
  // takes several, in place of its one otherwise); then write input.files.
  function zoneAdd(zone, added, before) {
    var input = zoneInput(zone);
    if (!input) return;
    var multiple = input.multiple;
    var limit = parseInt(zone.getAttribute("data-max-bytes"), 10) || 0;
    var errors = [];
    var fine = added.filter(function (file) {
      if (!accepts(input, file)) {
        errors.push(fillIn(zone.getAttribute("data-msg-type"), { name: file.name }));
        return false;
      }
      if (limit && file.size > limit) {
        errors.push(fillIn(zone.getAttribute("data-msg-size"), { name: file.name, max: megabytes(limit) }));
        return false;
      }
      return true;
    });
    var files;
    if (multiple) {
      files = before.slice();
      fine.forEach(function (file) {
        var twin = files.some(function (f) {
          return f.name === file.name && f.size === file.size && f.lastModified === file.lastModified;
        });
        if (!twin) files.push(file);
      });
    } else {
      // A refused file leaves the zone's file as it was (the message says why).
      files = fine.length ? fine.slice(0, 1) : before.slice(0, 1);
    }
    var most = parseInt(zone.getAttribute("data-max-files"), 10) || 0;
    if (multiple && most && files.length > most) {
      files = files.slice(0, most);
      errors.push(fillIn(zone.getAttribute("data-msg-count"), { max: String(most) }));
    }
    zoneSet(zone, files, errors);
  }

  function zoneSet(zone, files, errors) {
    var input = zoneInput(zone);
    zone.dropFiles = files;
    try {
      input.files = asFileList(files);
    } catch (e) {
      if (!files.length) input.value = "";
    }
    var error = zone.querySelector("[data-dropzone-error]");
    if (error) {
      error.textContent = (errors || []).join(" ");
      error.hidden = !error.textContent;
    }
    zoneRender(zone);
    // Tell the rest of the page (the reference counter, the frame picks).
    zone.dropSyncing = true;
    input.dispatchEvent(new Event("change", { bubbles: true }));
    zone.dropSyncing = false;
  }

  function zoneClear(zone) {
    if (zoneFiles(zone).length) zoneSet(zone, [], []);
  }

  function zoneRender(zone) {
    var list = zone.querySelector("[data-dropzone-files]");
    if (!list) return;
    list.querySelectorAll("[data-object-url]").forEach(function (el) {
      URL.revokeObjectURL(el.getAttribute("data-object-url"));
    });
    list.textContent = "";
    var kind = zone.getAttribute("data-kind");
    zoneFiles(zone).forEach(function (file, index) {
      var item = document.createElement("li");
      item.className = "dropzone__file";
      var url = window.URL && URL.createObjectURL ? URL.createObjectURL(file) : "";
      var about = document.createElement("div");
      about.className = "dropzone__about";
      var name = document.createElement("span");
      name.className = "dropzone__name";
      name.setAttribute("dir", "auto");
      name.textContent = file.name;
      var meta = document.createElement("span");
      meta.className = "dropzone__meta";
      meta.setAttribute("dir", "ltr");
      meta.textContent = fileSize(file.size);
      about.appendChild(name);
      about.appendChild(meta);
      if (kind === "audio" || /^audio\//.test(file.type)) {
        item.classList.add("dropzone__file--audio");
        item.appendChild(about);
        item.appendChild(removeButton(zone, file, index));
        var audio = document.createElement("audio");
        audio.controls = true;
        audio.preload = "metadata";
        audio.setAttribute("aria-label", file.name);
        audio.addEventListener("loadedmetadata", function () {
          if (isFinite(audio.duration)) meta.textContent = clock(audio.duration) + " · " + fileSize(file.size);
        });
        if (url) {
          audio.src = url;
          audio.setAttribute("data-object-url", url);
        }
        item.appendChild(audio);
      } else {
        var img = document.createElement("img");
        img.className = "dropzone__thumb";
        img.alt = "";
        if (url) {
          img.src = url;
          img.setAttribute("data-object-url", url);
        }
        item.appendChild(img);
        item.appendChild(about);
        item.appendChild(removeButton(zone, file, index));
      }
      list.appendChild(item);
    });
    list.hidden = !list.children.length;
    zone.classList.toggle("has-files", list.children.length > 0);
  }

  function removeButton(zone, file, index) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "btn btn-ghost btn-sm dropzone__remove";
    button.setAttribute("data-dropzone-remove", String(index));
    button.setAttribute("aria-label", fillIn(zone.getAttribute("data-remove-named"), { name: file.name }));
    button.textContent = zone.getAttribute("data-remove") || "×";
    return button;
  }

  function initDropZones(root) {
    root = root || document;
    var zones = Array.prototype.slice.call(root.querySelectorAll ? root.querySelectorAll("[data-dropzone]") : []);
    if (root.matches && root.matches("[data-dropzone]")) zones.push(root);
    zones.forEach(function (zone) {
      if (zone.classList.contains("is-ready")) return;
      zone.classList.add("is-ready");
      zoneRender(zone);
    });
  }

  document.addEventListener("change", function (event) {
    var input = event.target;
    var zone = input.closest && input.closest("[data-dropzone]");
    if (!zone || zone.dropSyncing || !input.classList.contains("dropzone__input")) return;
    // The file dialog's choice: added to the zone's files (or in place of its one).
    var before = zone.dropFiles || [];
    var chosen = Array.prototype.slice.call(input.files || []);
    if (!chosen.length) {
      // The dialog was cancelled: keep what the zone had.
      zoneSet(zone, input.multiple ? before : before.slice(0, 1), []);
      return;
    }
    zoneAdd(zone, chosen, before);
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-dropzone-remove]");
    var zone = button && button.closest("[data-dropzone]");
    if (!zone) return;
    var index = parseInt(button.getAttribute("data-dropzone-remove"), 10);
    var files = zoneFiles(zone).slice();
    files.splice(index, 1);
    zoneSet(zone, files, []);
    var next = zone.querySelectorAll("[data-dropzone-remove]")[Math.min(index, files.length - 1)];
    (next || zoneInput(zone)).focus();
  });

  function carriesFiles(event) {
    var types = event.dataTransfer && event.dataTransfer.types;
    return !!types && Array.prototype.indexOf.call(types, "Files") !== -1;
  }

  ["dragenter", "dragover"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      if (!carriesFiles(event)) return;
      var zone = event.target.closest && event.target.closest("[data-dropzone]");
      if (zone) {
        zone.classList.add("is-dragover");
        event.dataTransfer.dropEffect = "copy";
        event.preventDefault();
      } else if (document.querySelector("[data-dropzone]")) {
        // A file dropped next to a zone must not replace the page (and the form with it).
        event.dataTransfer.dropEffect = "none";
        event.preventDefault();
      }
    });
  });

  document.addEventListener("dragleave", function (event) {
    var zone = event.target.closest && event.target.closest("[data-dropzone]");
    if (zone && !zone.contains(event.relatedTarget)) zone.classList.remove("is-dragover");
  });

  document.addEventListener("drop", function (event) {
    var zone = event.target.closest && event.target.closest("[data-dropzone]");
    if (!zone) {
      if (carriesFiles(event) && document.querySelector("[data-dropzone]")) event.preventDefault();
      return;
    }
    event.preventDefault();
    zone.classList.remove("is-dragover");
    var input = zoneInput(zone);
    var files = Array.prototype.slice.call((event.dataTransfer && event.dataTransfer.files) || []);
    if (!input || !files.length) return;
    zoneAdd(zone, input.multiple ? files : files.slice(0, 1), zoneFiles(zone));
  });

  // A frame slot (generation/partials/frame_fields.html) takes one image: a
  // file or one pick of the creator's images, never both.
  document.addEventListener("change", function (event) {
    var target = event.target;
    var slot = target.closest && target.closest("[data-pick-slot]");
    if (!slot) return;
    if (target.matches("[data-pick]") && target.checked) {
      slot.querySelectorAll("[data-pick]").forEach(function (pick) { if (pick !== target) pick.checked = false; });
      slot.querySelectorAll("[data-dropzone]").forEach(zoneClear);
    } else if (target.classList.contains("dropzone__input") && target.files && target.files.length) {
      slot.querySelectorAll("[data-pick]").forEach(function (pick) { pick.checked = false; });
    }
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
    initDropZones(event.detail.elt);
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
  // A hidden slot's file and picks are dropped, so they are never sent to a
  // model that would refuse them.
  function syncFrames(root) {
    var marker = root.querySelector ? root.querySelector("[data-frames]") : null;
    var field = document.querySelector("[data-frames-field]");
    if (!marker || !field) return;
    var frames = parseInt(marker.getAttribute("data-frames"), 10) || 0;
    field.hidden = frames < 1;
    var last = field.querySelector("[data-last-frame]");
    if (last) last.hidden = frames < 2;
    field.querySelectorAll("[data-pick-slot]").forEach(function (slot) {
      if (!field.hidden && !slot.hidden) return;
      slot.querySelectorAll("[data-dropzone]").forEach(zoneClear);
      slot.querySelectorAll("input[type=file]").forEach(function (input) { input.value = ""; });
      slot.querySelectorAll("[data-pick]").forEach(function (pick) { pick.checked = false; });
    });
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

  // A new job card: bring it into view on small screens, where it can be
  // above the screen (the feed scrolled down, the form docked below).
  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    if (!isGenerateForm(elt) || !event.detail.successful) return;
    var target = event.detail.target;
    if (target && target.id === "jobs" && window.matchMedia("(max-width: 960px)").matches) {
      var card = target.querySelector(".job-card");
      if (card) card.scrollIntoView({ behavior: "smooth", block: "start" });
    }
  });

  // --- the studio's dock on a phone (generation/studio.html) -----------------
  // Below 960 px the form is a dock at the bottom of the screen: its settings
  // fold away (the prompt, the price and Generate stay) until asked for.
  var dockQuery = window.matchMedia("(max-width: 960px)");

  function setDock(panel, open) {
    var toggle = panel.querySelector("[data-dock-toggle]");
    panel.classList.toggle("is-folded", !open);
    if (toggle) toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }

  function initDock(root) {
    (root || document).querySelectorAll("[data-dock]").forEach(function (panel) {
      var toggle = panel.querySelector("[data-dock-toggle]");
      if (!toggle) return;
      toggle.hidden = !dockQuery.matches;
      setDock(panel, !dockQuery.matches);
    });
  }

  dockQuery.addEventListener("change", function () { initDock(document); });

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-dock-toggle]");
    var panel = toggle && toggle.closest("[data-dock]");
    if (panel) setDock(panel, panel.classList.contains("is-folded"));
  });

  // --- actions that fill the studio form (generation/actions.py) --------------
  // "Reuse settings", "Use as reference", "Animate": on the page whose form
  // they fill, the filled form replaces the form in place and the address
  // follows (Back goes to the page as it was); elsewhere the link is followed.
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-action-form]");
    if (!link || !window.htmx || event.ctrlKey || event.metaKey || event.shiftKey || event.button) return;
    var form = document.getElementById(link.getAttribute("data-action-form") + "-form");
    var panel = form && form.closest("#studio-panel");
    if (!panel) return;
    event.preventDefault();
    var menu = link.closest("details");
    if (menu) menu.removeAttribute("open");
    window.htmx.ajax("GET", link.href, { target: "#studio-panel", select: "#studio-panel", swap: "outerHTML" }).then(function () {
      window.history.pushState({ mirsamForm: true }, "", link.href);
      var fresh = document.getElementById("studio-panel");
      if (!fresh) return;
      initDock(fresh.parentNode);
      setDock(fresh, true);
      var prompt = fresh.querySelector("textarea");
      if (prompt) prompt.focus();
    });
  });

  // Back (or Forward) across a filled form: show that page as it is.
  window.addEventListener("popstate", function () {
    if (document.getElementById("studio-panel")) window.location.reload();
  });

  // A menu item that acts closes its menu ("More" on a card).
  document.addEventListener("click", function (event) {
    var item = event.target.closest(".job-card__more .menu__item");
    var menu = item && item.closest("details");
    if (menu && item.tagName !== "SUMMARY") window.setTimeout(function () { menu.removeAttribute("open"); }, 0);
  });

  // --- push (generation/push.py) ----------------------------------------------
  // While the page shows a running job card it holds one EventSource on
  // body[data-push-url]. An event names a job and its new version ("at", µs);
  // the job's card, when it shows an older version (data-updated), fetches
  // itself ("mirsam:job" is one of its hx-triggers). While the stream is open
  // the cards' 2-second polls are cancelled; while it is not (no push on this
  // site, Redis down, reconnecting) they run as before. A stream the server
  // ends for good (503, 204) is opened again after a growing pause.
  var push = { source: null, live: false, timer: 0, pause: 5000 };

  function runningCards() { return document.querySelectorAll(".job-card.is-running[data-updated]"); }

  function pushOpen(url, cards) {
    var since = Infinity;
    cards.forEach(function (card) { since = Math.min(since, Number(card.getAttribute("data-updated"))); });
    var source = new EventSource(url + (url.indexOf("?") < 0 ? "?" : "&") + "since=" + since);
    push.source = source;
    source.addEventListener("open", function () { push.live = true; push.pause = 5000; });
    source.addEventListener("job", function (event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      var card = document.getElementById("job-" + data.id);
      if (card && card.classList.contains("is-running") && data.at > Number(card.getAttribute("data-updated") || 0)) {
        htmx.trigger(card, "mirsam:job");
      }
    });
    source.addEventListener("error", function () {
      push.live = false;
      if (source.readyState !== EventSource.CLOSED) return;  // the browser reconnects by itself
      source.close();
      push.source = null;
      push.timer = window.setTimeout(function () { push.timer = 0; pushSync(); }, push.pause);
      push.pause = Math.min(push.pause * 2, 60000);
    });
  }

  function pushSync() {
    var url = document.body.getAttribute("data-push-url");
    if (!url || typeof EventSource === "undefined") return;
    var cards = runningCards();
    if (cards.length && !push.source && !push.timer) pushOpen(url, cards);
    else if (!cards.length && push.source) {
      push.source.close();
      push.source = null;
      push.live = false;
    }
  }

  document.addEventListener("htmx:confirm", function (event) {
    var elt = event.detail.elt;
    // A poll has no triggering event; a push-triggered fetch has "mirsam:job".
    if (push.live && !event.detail.triggeringEvent && elt.classList && elt.classList.contains("job-card")) {
      event.preventDefault();
    }
  });
  document.addEventListener("htmx:afterSettle", pushSync);

  function ready() {
    initDock(document);
    initCounters(document);
    autoDismiss(document);
    showJsOnly(document);
    initDropZones(document);
    initReferences(document);
    pushSync();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
