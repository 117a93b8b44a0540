// The booking steps, enhanced. Without this file every step is a plain link or form; with
// it, a day, a month, a zone or a time is shown in place (no page load), and the visitor's
// own time zone is picked from the browser once.
(function () {
  "use strict";
  var main = document.getElementById("main");
  if (!main || !window.fetch || !window.DOMParser || !window.history.pushState) {
    return;
  }
  document.documentElement.classList.add("js");

  function show(url, push) {
    fetch(url, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.text();
    }).then(function (html) {
      var page = new DOMParser().parseFromString(html, "text/html");
      var stepChanged = page.title !== document.title;
      main.innerHTML = page.getElementById("main").innerHTML;
      document.title = page.title;
      window.history[push ? "pushState" : "replaceState"](null, "", url);
      // Tell screen readers what changed: a new step's heading, or the chosen day's times.
      var target = main.querySelector(stepChanged ? "h1" : "#times-title") || main;
      target.setAttribute("tabindex", "-1");
      target.focus({ preventScroll: !stepChanged });
      if (stepChanged) { window.scrollTo(0, 0); }
    }).catch(function () {
      window.location.href = url;
    });
  }

  function zoneUrl(form) {
    return form.action + "?" + new URLSearchParams(new FormData(form)).toString();
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("main a[href^='/book?']");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) {
      return;
    }
    event.preventDefault();
    show(link.href, true);
  });
  document.addEventListener("change", function (event) {
    if (event.target.id === "tz" && event.target.form.classList.contains("zone")) {
      show(zoneUrl(event.target.form), true);
    }
  });
  window.addEventListener("popstate", function () {
    show(window.location.href, false);
  });

  // Once, on a page reached without ?tz=: show the times in the browser's own zone.
  var picker = document.getElementById("tz");
  var form = picker && picker.form;
  var zone = window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (form && form.hasAttribute("data-detect-zone") && zone && picker.value !== zone &&
      picker.querySelector("option[value='" + zone.replace(/'/g, "") + "']")) {
    picker.value = zone;
    show(zoneUrl(form), false);
  }
})();
