// Progressive enhancement only: every page works without this file, except the live feed.
(function () {
  "use strict";
  // The browser's time zone: filled into the picker, and applied once when the URL has none.
  var tz = "";
  try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { tz = ""; }
  document.querySelectorAll("input[data-browser-tz]").forEach(function (input) {
    if (!input.value && tz) { input.value = tz; }
  });
  var url = new URL(window.location.href);
  var zoned = document.body.querySelector(".picker");
  // Only pages reached by GET: a form's answer (e.g. /pricing/custom) cannot be reloaded.
  var reloadable = !/^\/(pricing|keys)\//.test(url.pathname);
  if (zoned && reloadable && tz && !url.searchParams.has("tz") && tz !== "UTC") {
    url.searchParams.set("tz", tz);
    window.location.replace(url.toString());
    return;
  }
  // Copy buttons (a new key, the first-event snippet).
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var target = document.getElementById(button.getAttribute("data-copy"));
      if (target && navigator.clipboard) {
        navigator.clipboard.writeText(target.textContent.trim()).then(function () {
          button.textContent = "Copied";
        });
      }
    });
  });
  // The live page: follow the cost stream and keep running totals, exactly: amounts arrive as
  // decimal strings and are summed as integers of 1e-12 USD (the stored precision).
  var live = document.getElementById("live");
  if (live) {
    var SCALE = 12;
    var units = function (text) {
      var s = String(text || "0"), neg = s.charAt(0) === "-";
      if (neg) { s = s.slice(1); }
      var parts = s.split("."), frac = (parts[1] || "").slice(0, SCALE);
      while (frac.length < SCALE) { frac += "0"; }
      var v = BigInt(parts[0] || "0") * (10n ** BigInt(SCALE)) + BigInt(frac || "0");
      return neg ? -v : v;
    };
    var money = function (v) {
      var neg = v < 0n; if (neg) { v = -v; }
      var whole = v / (10n ** BigInt(SCALE));
      var frac = (v % (10n ** BigInt(SCALE))).toString().padStart(SCALE, "0");
      var out;
      if (whole >= 1n) {
        var cents = (v + 5n * (10n ** BigInt(SCALE - 3))) / (10n ** BigInt(SCALE - 2));
        out = (cents / 100n).toLocaleString("en-US") + "." + String(cents % 100n).padStart(2, "0");
      } else {
        var first = frac.search(/[1-9]/);
        out = first < 0 ? "0.00" : "0." + frac.slice(0, Math.max(first + 3, 2)).replace(/0+$/, "").padEnd(2, "0");
      }
      return (neg ? "−$" : "$") + out;
    };
    var total = units(live.getAttribute("data-total"));
    var calls = 0n;
    var totalEl = document.getElementById("live-total");
    var callsEl = document.getElementById("live-calls");
    var statusEl = document.getElementById("live-status");
    var feed = document.getElementById("live-feed");
    var source = new EventSource("/api/v1/stream/costs");
    source.onopen = function () { statusEl.textContent = "connected"; };
    source.onerror = function () { statusEl.textContent = "reconnecting…"; };
    source.onmessage = function (message) {
      var frame;
      try { frame = JSON.parse(message.data); } catch (e) { return; }
      if (frame.type === "snapshot" && frame.totalCostUsd !== undefined) {
        total = units(frame.totalCostUsd);
      } else if (frame.type === "cost_update") {
        total += units(frame.data.costDeltaUsd);
        calls += BigInt(frame.data.requestsDelta || 0);
        var row = document.createElement("li");
        row.textContent = new Date(frame.timestamp).toLocaleTimeString() + " · " +
          frame.data.requestsDelta + " call(s) · $" + frame.data.costDeltaUsd + " · " +
          (Array.isArray(frame.features) ? frame.features : Object.keys(frame.features || {})).join(", ");
        feed.insertBefore(row, feed.firstChild);
        while (feed.children.length > 50) { feed.removeChild(feed.lastChild); }
      }
      totalEl.textContent = money(total);
      totalEl.setAttribute("title", "$" + frame.totalCostUsd);
      callsEl.textContent = calls.toString();
    };
  }
})();
