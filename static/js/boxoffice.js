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

  document.addEventListener("htmx:responseError", function (event) {
    if (event.detail.xhr.status >= 500) {
      window.alert("Something went wrong on our side. Please try again in a moment.");
    }
  });
})();
