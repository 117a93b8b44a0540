// Show the booking page's times in the visitor's own time zone.
// Without JavaScript the "Show times in" picker does the same; this only saves a click.
(function () {
  "use strict";
  var params = new URLSearchParams(window.location.search);
  if (params.has("tz") || !window.Intl || !Intl.DateTimeFormat) {
    return;
  }
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  var picker = document.getElementById("tz");
  var offered = picker && Array.prototype.some.call(picker.options, function (option) {
    return option.value === zone;
  });
  // Only reload for a zone the server offers, and only once (tz is then in the URL).
  // Only on a fresh GET of the page: a re-shown form must not lose what was typed.
  if (!picker || !picker.form.hasAttribute("data-detect-zone")) {
    return;
  }
  if (!zone || !offered || picker.value === zone) {
    return;
  }
  params.set("tz", zone);
  // The reload's Referer would be this page; keep where the visitor really came from.
  if (!params.has("referrer") && document.referrer) {
    params.set("referrer", document.referrer);
  }
  window.location.replace(window.location.pathname + "?" + params.toString());
})();
