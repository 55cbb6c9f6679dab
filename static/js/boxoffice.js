// Site-wide behaviour that HTMX does not cover. Pages work without it.
(function () {
  // Hold countdowns: <el data-countdown-until="ISO time">. The server's expiry is the truth; this only shows it.
  function tick() {
    document.querySelectorAll("[data-countdown-until]").forEach(function (el) {
      var left = Math.round((Date.parse(el.dataset.countdownUntil) - Date.now()) / 1000);
      if (left <= 0) {
        el.textContent = "0:00 (expired)";
        el.closest(".cart__timer") && el.closest(".cart__timer").classList.add("cart__timer--expired");
        return;
      }
      var minutes = Math.floor(left / 60), seconds = left % 60;
      el.textContent = minutes + ":" + (seconds < 10 ? "0" : "") + seconds;
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSettle", tick);

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-print]")) window.print();
  });

  // Catalogue filters: on a phone the search box comes first and the other filters wait behind
  // "Filters", unless one of them is in use (the CSS collapses them on narrow screens only).
  function collapsibleFilters() {
    document.querySelectorAll("form.filters[data-collapsible]").forEach(function (form) {
      var toggle = form.querySelector(".filters__toggle");
      var inUse = Array.prototype.some.call(
        form.querySelectorAll(".field:not(.field--search) input, .field:not(.field--search) select"),
        function (input) { return input.name === "sort" ? input.value !== "date" : input.value !== ""; });
      function show(open) {
        form.classList.toggle("filters--collapsed", !open);
        toggle.setAttribute("aria-expanded", String(open));
      }
      toggle.hidden = false;
      show(inUse);
      toggle.addEventListener("click", function () { show(form.classList.contains("filters--collapsed")); });
    });
  }
  document.addEventListener("DOMContentLoaded", collapsibleFilters);

  // When the box office cannot be reached (status 0: no answer; 5xx: the server's error page). Never a dialog.
  // A failed poll (hx-trigger "every ...") backs off, 2, 4, 8 then every 10 seconds, and shows one polite
  // "Reconnecting…" notice until a request succeeds again; the next poll then brings the map up to date. A
  // failed seat press says so in the seat picker's status. A boosted page that fails shows the error page
  // the server sent. Anything else failing says so in the notice.
  var failures = 0, pollAfter = 0, notice = null;

  function setNotice(text) {
    if (!notice) {
      // The live region is there (and empty) before anything is said in it, so that it is read out.
      notice = document.createElement("div");
      notice.setAttribute("role", "status");
      document.body.appendChild(notice);
    }
    notice.replaceChildren();
    if (text) {
      var p = document.createElement("p");
      p.className = "connection-notice";
      p.textContent = text;
      notice.appendChild(p);
    }
  }
  document.addEventListener("DOMContentLoaded", function () { setNotice(""); });

  function isPoll(elt) { return /(^|,)\s*every\s/.test(elt.getAttribute("hx-trigger") || ""); }

  function sayInPicker(elt, text) {
    var status = elt.closest("#seat-picker") && document.getElementById("seat-picker-status");
    if (!status) return false;
    var p = document.createElement("p");
    p.className = "alert alert--error";
    p.setAttribute("role", "alert");
    p.textContent = text;
    status.replaceChildren(p);
    return true;
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    if (isPoll(event.detail.elt) && Date.now() < pollAfter) event.preventDefault();
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    if (!event.detail.successful) return;
    if (failures) setNotice("");
    failures = 0;
    pollAfter = 0;
  });

  // Failures only (an answer with an error status, no answer, a timeout), not requests that htmx itself
  // aborted because a newer one replaced them.
  function failed(event) {
    var elt = event.detail.elt, status = event.detail.xhr.status;
    if (isPoll(elt)) {
      if (status !== 0 && status < 500) return;
      failures += 1;
      pollAfter = Date.now() + Math.min(2000 * Math.pow(2, failures - 1), 10000);
      setNotice("Reconnecting…");
    } else if (status === 0 || status >= 500) {
      failures = failures || 1;
      if (!sayInPicker(elt, "We could not reach the box office; your seats are unchanged. Try again.")) {
        setNotice("We could not reach the box office. Please try again in a moment.");
      }
    } else if (!event.detail.boosted) {
      // A refusal the page does not swap in (a 4xx error fragment): its words, as text, in the picker.
      var answer = document.createElement("template");
      answer.innerHTML = event.detail.xhr.responseText;
      var text = answer.content.textContent.trim();
      if (text) sayInPicker(elt, text);
    }
  }
  ["htmx:responseError", "htmx:sendError", "htmx:timeout"].forEach(function (name) {
    document.addEventListener(name, failed);
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.boosted && event.detail.xhr.status >= 400) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
