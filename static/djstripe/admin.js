// dj-stripe's admin pages (templates/djstripe/admin/): while a form is sent or
// a link followed (syncing with Stripe takes a while), show "Working…" instead
// of the page, as dj-stripe's inline handlers did before our CSP blocked them.
(function () {
  "use strict";

  function busy() {
    var spinner = document.getElementById("div_spinner");
    if (!spinner) return;
    document.querySelectorAll("#main_content, .messagelist").forEach(function (el) {
      el.hidden = true;
    });
    spinner.hidden = false;
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("#content form").forEach(function (form) {
      form.addEventListener("submit", busy);
    });
    document.querySelectorAll("#content a").forEach(function (link) {
      link.addEventListener("click", busy);
    });
  });

  // Back to this page from the cache: show it again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    var spinner = document.getElementById("div_spinner");
    if (spinner) spinner.hidden = true;
    document.querySelectorAll("#main_content, .messagelist").forEach(function (el) {
      el.hidden = false;
    });
  });
})();
