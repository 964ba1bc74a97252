// Clearway workbench: small enhancements. Every page works without this file.
(function () {
  "use strict";

  // Warn before the session ends; what the user is typing is kept by the server if it does end.
  var expires = Number(document.body.dataset.sessionExpires || 0) * 1000;
  var warning = document.getElementById("session-warning");
  if (expires && warning) {
    var tick = function () {
      var left = expires - Date.now();
      if (left <= 0) {
        warning.textContent = "Your session has ended. If you send a form now you will be asked to sign in, and what you typed is kept.";
        warning.hidden = false;
        return;
      }
      if (left < 10 * 60 * 1000) {
        warning.textContent = "Your session ends in " + Math.ceil(left / 60000) + " min. Nothing you type is lost: if it ends, sign in again and send.";
        warning.hidden = false;
      }
      setTimeout(tick, 30000);
    };
    tick();
  }

  // Confirm decisions that end a declaration.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });

  // One press sends once (the server also refuses to lodge twice).
  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (event.defaultPrevented) return;
      var button = event.submitter;
      if (button && !button.hasAttribute("data-add-item")) {
        setTimeout(function () { button.disabled = true; button.textContent = "Sending…"; }, 0);
      }
    });
  });

  // Put the focus on the error summary after a refused form.
  var summary = document.getElementById("form-errors");
  if (summary) summary.focus();

  // Goods items: add and remove rows in place.
  var items = document.querySelector("[data-items]");
  var template = document.getElementById("item-template");
  var addButton = document.querySelector("[data-add-item]");
  function renumber() {
    var rows = items.querySelectorAll("[data-item]");
    rows.forEach(function (row, i) {
      row.querySelector("[data-item-number]").textContent = i + 1;
      var remove = row.querySelector("[data-remove-item]");
      remove.hidden = rows.length < 2;
    });
  }
  function nextIndex() {
    var max = -1;
    items.querySelectorAll("[name^='goods_items[']").forEach(function (el) {
      var m = /^goods_items\[(\d+)\]/.exec(el.name);
      if (m) max = Math.max(max, Number(m[1]));
    });
    return max + 1;
  }
  function wire(row) {
    row.querySelector("[data-remove-item]").addEventListener("click", function () {
      row.remove();
      renumber();
    });
    var description = row.querySelector("[data-hs-suggest]");
    if (description) suggest(row, description);
  }
  if (items && template && addButton) {
    items.querySelectorAll("[data-item]").forEach(wire);
    addButton.addEventListener("click", function (event) {
      event.preventDefault();
      var index = nextIndex();
      var html = template.innerHTML.replace(/goods_items\[999\]/g, "goods_items[" + index + "]");
      var holder = document.createElement("div");
      holder.innerHTML = html.trim();
      var row = holder.firstElementChild;
      items.appendChild(row);
      wire(row);
      renumber();
      var first = row.querySelector("input, textarea, select");
      if (first) first.focus();
    });
    renumber();
  }

  // HS code suggestions from the goods description (quietly absent when the service is not there).
  var suggestionsOff = false;
  function suggest(row, description) {
    var timer = null;
    var latest = 0;
    var box = row.querySelector(".hs-suggestions");
    var hs = row.querySelector("[name$='.hs_code']");
    description.addEventListener("input", function () {
      if (suggestionsOff) return;
      clearTimeout(timer);
      var text = description.value.trim();
      if (text.length < 4) { box.hidden = true; return; }
      timer = setTimeout(function () {
        var seq = ++latest;
        fetch("/api/v1/classification/suggest", {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "Accept": "application/json" },
          body: JSON.stringify({ description: text, limit: 3 })
        }).then(function (response) {
          if (response.status === 404) { suggestionsOff = true; box.hidden = true; return null; }
          return response.ok ? response.json() : null;
        }).then(function (body) {
          if (seq !== latest) return;  // an older answer arriving after a newer one
          var useful = body && body.suggestions ? body.suggestions.filter(function (s, i) {
            return i === 0 || (typeof s.confidence === "number" && s.confidence >= 0.05);
          }) : [];
          if (!useful.length) { box.hidden = true; return; }
          box.textContent = "";
          var label = document.createElement("span");
          label.className = "muted";
          label.textContent = "Suggested HS codes:";
          box.appendChild(label);
          useful.forEach(function (s) {
            var b = document.createElement("button");
            b.type = "button";
            var words = s.subheading && s.subheading.description ? " " + s.subheading.description : "";
            var confidence = typeof s.confidence === "number" ? " (" + Math.round(s.confidence * 100) + "%)" : "";
            b.textContent = s.hs_code + words.slice(0, 60) + confidence;
            b.title = "Use HS code " + s.hs_code;
            b.addEventListener("click", function () { hs.value = s.hs_code; hs.focus(); box.hidden = true; });
            box.appendChild(b);
          });
          box.hidden = false;
        }).catch(function () { box.hidden = true; });
      }, 350);
    });
  }
})();
